package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/tpdns/tpdns/config"
)

// servicesList lists the services, one a line.
func servicesList(ctx context.Context, c *call) error {
	raw, err := c.client.get(ctx, "/v1/services")
	if err != nil {
		return err
	}
	if c.opts.output == outputJSON {
		return writeJSON(c.stdout, raw)
	}
	list, err := decode[serviceList](raw)
	if err != nil {
		return err
	}
	t := table{}
	t.add("NAME", "ORIGIN", "ENDPOINTS", "PORTS", "TTL")
	for _, s := range list.Services {
		origin := cell(s.Origin)
		if s.Conflict != "" {
			origin += "!"
		}
		up, total := s.upTotal()
		t.add(s.Name, origin, fmt.Sprintf("%d/%d", up, total), portList(s.Ports), ttlText(s.TTL))
	}
	if err := t.write(c.stdout); err != nil {
		return err
	}
	// The marker alone would leave the reader guessing; the table stays
	// clean for scripts.
	for _, s := range list.Services {
		if s.Conflict != "" {
			fmt.Fprintf(c.stderr, "tpdnsctl: warning: service %s is not served: %s\n", s.Name, s.Conflict)
		}
	}
	return nil
}

// servicesGet shows one service.
func servicesGet(ctx context.Context, c *call) error {
	raw, err := c.client.get(ctx, servicePath(c.args[0]))
	if err != nil {
		return err
	}
	if c.opts.output == outputJSON {
		return writeJSON(c.stdout, raw)
	}
	s, err := decode[service](raw)
	if err != nil {
		return err
	}
	return describe(c.stdout, s, c.now(), c.color)
}

// servicesApply puts every service of a registry file, in file order.
func servicesApply(ctx context.Context, c *call) error {
	file := c.opts.file
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("registry file: %w", err)
	}
	// The server would find the same errors, but one service at a time and
	// without the file's line numbers; and half a file applied is worse
	// than none.
	services, err := config.ParseYAML(file, data, config.Options{})
	if err != nil {
		return err
	}
	if len(services) == 0 {
		return fmt.Errorf("%s: no services to apply", file)
	}
	for _, s := range services {
		body, err := config.EncodeJSON(s)
		if err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
		status, raw, err := c.client.do(ctx, http.MethodPut, servicePath(s.Name), body)
		if err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
		verb := "configured"
		if status == http.StatusCreated {
			verb = "created"
		}
		if err := c.report(raw, "service "+s.Name+" "+verb); err != nil {
			return err
		}
	}
	return nil
}

// servicesDelete deletes one service.
func servicesDelete(ctx context.Context, c *call) error {
	name := c.args[0]
	_, raw, err := c.client.do(ctx, http.MethodDelete, servicePath(name), nil)
	if err != nil {
		return err
	}
	return c.report(raw, "service "+name+" deleted")
}
