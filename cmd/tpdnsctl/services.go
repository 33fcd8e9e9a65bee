package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/tpdns/tpdns/config"
)

// servicesList lists the services, one a line.
func servicesList(ctx context.Context, c *call) error {
	raw, err := c.client.get(ctx, "/v1/services")
	if err != nil {
		return err
	}
	switch c.opts.output {
	case outputJSON:
		return writeJSON(c.stdout, raw)
	case outputYAML:
		services, err := getServices(raw, false)
		if err != nil {
			return err
		}
		return writeRegistry(c, services)
	}
	list, err := decode[serviceList](raw)
	if err != nil {
		return err
	}
	wide := c.opts.output == outputWide
	t := table{}
	header := []string{"NAME", "ORIGIN", "ENDPOINTS", "PORTS", "TTL"}
	if wide {
		header = append(header, "CHECK", "ALLOW")
	}
	t.add(header...)
	for _, s := range list.Services {
		origin := cell(s.Origin)
		if s.Conflict != "" {
			origin += "!"
		}
		up, total := s.upTotal()
		row := []string{s.Name, origin, fmt.Sprintf("%d/%d", up, total), portList(s.Ports), ttlText(s.TTL)}
		if wide {
			row = append(row, checkShort(s.Check), cell(orElse(strings.Join(s.Allow, ","), "everyone")))
		}
		t.add(row...)
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

// servicesGet shows one service, with its ETag (a store service's).
func servicesGet(ctx context.Context, c *call) error {
	_, raw, header, err := c.client.send(ctx, http.MethodGet, servicePath(c.args[0]), nil)
	if err != nil {
		return err
	}
	switch c.opts.output {
	case outputJSON:
		return writeJSON(c.stdout, raw)
	case outputYAML:
		services, err := getServices(raw, true)
		if err != nil {
			return err
		}
		return writeRegistry(c, services)
	}
	s, err := decode[service](raw)
	if err != nil {
		return err
	}
	s.ETag = header.Get("ETag")
	return describe(c.stdout, s, c.now(), c.color, c.opts.output == outputWide)
}

// entityTag is an ETag as given to --if-match: as services get shows it
// ("5", quotes and all), or without its quotes (5), which a shell eats.
func entityTag(s string) string {
	if strings.HasPrefix(s, `"`) || strings.HasPrefix(s, `W/"`) {
		return s
	}
	return `"` + s + `"`
}

// servicesApply puts every service of a registry file, in file order:
// each is created or replaced, or with --if-match replaced only at that
// revision.
func servicesApply(ctx context.Context, c *call) error {
	return putFile(ctx, c, false)
}

// servicesCreate puts every service of a registry file, in file order,
// each only if it does not exist.
func servicesCreate(ctx context.Context, c *call) error {
	return putFile(ctx, c, true)
}

// putFile puts the services of the registry file, creating them only
// when create is set.
func putFile(ctx context.Context, c *call, create bool) error {
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
	var header []string
	switch {
	case create:
		header = []string{"If-None-Match", "*"}
	case c.flags.Changed("if-match"):
		if len(services) != 1 {
			return fmt.Errorf("--if-match is the ETag of one service, and %s has %d", file, len(services))
		}
		header = []string{"If-Match", entityTag(c.opts.ifMatch)}
	}
	for _, s := range services {
		body, err := config.EncodeJSON(s)
		if err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
		status, raw, _, err := c.client.send(ctx, http.MethodPut, servicePath(s.Name), body, header...)
		if err != nil {
			if pe := refused(err, s.Name, create, header); pe != nil {
				return pe
			}
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

// servicesDelete deletes one service, with --if-match only at that
// revision.
func servicesDelete(ctx context.Context, c *call) error {
	name := c.args[0]
	var header []string
	if c.flags.Changed("if-match") {
		header = []string{"If-Match", entityTag(c.opts.ifMatch)}
	}
	_, raw, _, err := c.client.send(ctx, http.MethodDelete, servicePath(name), nil, header...)
	if err != nil {
		if pe := refused(err, name, false, header); pe != nil {
			return pe
		}
		return err
	}
	return c.report(raw, "service "+name+" deleted")
}

// refused words a failed precondition (412) of a write to the service
// name that sent header: the service exists (create), or it is no longer
// at the ETag given. It returns nil for other errors.
func refused(err error, name string, create bool, header []string) error {
	var e *apiError
	if !errors.As(err, &e) || e.status != http.StatusPreconditionFailed {
		return nil
	}
	switch {
	case create:
		return fmt.Errorf("service %s exists already; services apply replaces it", name)
	case e.etag == "":
		return fmt.Errorf("service %s does not exist (--if-match %s)", name, header[1])
	}
	return fmt.Errorf("service %s changed since you read it: it is at ETag %s, not %s; get it again, then retry", name, e.etag, header[1])
}
