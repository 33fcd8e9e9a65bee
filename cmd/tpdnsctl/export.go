package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tpdns/tpdns/config"
)

// apiService is a service as the API shows it, with all of its document,
// for writing it as a registry file.
type apiService struct {
	config.Document
	Origin    string        `json:"origin"`
	Conflict  string        `json:"conflict"`
	Endpoints []apiEndpoint `json:"endpoints"`
	Check     *apiCheck     `json:"check"`
}

// apiEndpoint is an endpoint as the API shows it: its name is its label,
// given or not, and a registered one may expire.
type apiEndpoint struct {
	config.EndpointDoc
	Name    string `json:"name"`
	Expires string `json:"expires"`
}

// apiCheck is a check as the API shows it, its scalars taken as written.
type apiCheck struct {
	config.CheckDocument
	Port     text `json:"port"`
	Expect   text `json:"expect"`
	Interval text `json:"interval"`
	Timeout  text `json:"timeout"`
}

// hidden says what of s the API does not show, "" for nothing: the values
// of its secrets and of its check's headers, which it masks.
func (s apiService) hidden() string {
	var parts []string
	if len(s.Secrets) > 0 {
		parts = append(parts, "secrets "+strings.Join(slices.Sorted(maps.Keys(s.Secrets)), ", "))
	}
	if s.Check != nil && len(s.Check.Headers) > 0 {
		parts = append(parts, "check headers "+strings.Join(slices.Sorted(maps.Keys(s.Check.Headers)), ", "))
	}
	return strings.Join(parts, " and ")
}

// registryForm turns services as the API shows them into the services of
// a registry file, each with comments on what it leaves out and why:
// what the API does not show (hidden), and the endpoints registered with
// a ttl, which their heartbeat keeps (in a file they would never expire).
// A file service and a service not served say so.
func registryForm(services []apiService) ([]config.Commented, error) {
	out := make([]config.Commented, 0, len(services))
	for _, s := range services {
		var comments []string
		if s.Origin == "file" {
			comments = append(comments, "from the registry file: change it there, the API cannot")
		}
		if s.Conflict != "" {
			comments = append(comments, "not served: "+s.Conflict)
		}
		doc := s.Document
		doc.Endpoints = nil
		for _, e := range s.Endpoints {
			if e.Expires != "" {
				comments = append(comments, "endpoint "+e.Address+" left out: registered with a ttl, it is kept by its heartbeat")
				continue
			}
			ep := e.EndpointDoc
			ep.Name = e.Name
			doc.Endpoints = append(doc.Endpoints, ep)
		}
		if h := s.hidden(); h != "" {
			comments = append(comments, h+" left out: the API does not show their values")
		}
		doc.Secrets = nil
		doc.Check = nil
		if c := s.Check; c != nil {
			cd := c.CheckDocument
			cd.Port, cd.Expect, cd.Interval, cd.Timeout = string(c.Port), string(c.Expect), string(c.Interval), string(c.Timeout)
			cd.Headers = nil
			doc.Check = &cd
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Name, err)
		}
		svc, err := config.DecodeJSON(body, config.Options{})
		if err != nil {
			return nil, fmt.Errorf("service %s as the server has it is not a valid registry file service:\n%w", s.Name, err)
		}
		out = append(out, config.Commented{Service: svc, Comments: comments})
	}
	return out, nil
}

// writeRegistry writes services as a registry file.
func writeRegistry(c *call, services []apiService) error {
	file, err := registryForm(services)
	if err != nil {
		return err
	}
	_, err = c.stdout.Write(config.EncodeYAML(file))
	return err
}

// servicesExport writes the store's services, or those named, as a
// registry file that services apply takes back unchanged. It refuses a
// service with values the API does not show (secrets, check headers)
// unless --omit-secrets says to leave them out: the file must not hold
// "***" where apply would send it back as the value.
func servicesExport(ctx context.Context, c *call) error {
	var services []apiService
	if len(c.args) == 0 {
		raw, err := c.client.get(ctx, "/v1/services")
		if err != nil {
			return err
		}
		list, err := decode[struct{ Services []apiService }](raw)
		if err != nil {
			return err
		}
		var fromFile []string
		for _, s := range list.Services {
			if s.Origin == "file" {
				fromFile = append(fromFile, s.Name)
				continue
			}
			services = append(services, s)
		}
		if len(fromFile) > 0 {
			fmt.Fprintf(c.stderr, "tpdnsctl: not exported, as the registry file has them: %s\n", strings.Join(fromFile, ", "))
		}
	}
	for _, name := range c.args {
		raw, err := c.client.get(ctx, servicePath(name))
		if err != nil {
			return err
		}
		s, err := decode[apiService](raw)
		if err != nil {
			return err
		}
		if s.Origin == "file" {
			return fmt.Errorf("service %s is the registry file's: export writes the store's services", name)
		}
		services = append(services, s)
	}
	if !c.opts.omitSecrets {
		var hidden []string
		for _, s := range services {
			if h := s.hidden(); h != "" {
				hidden = append(hidden, "  "+s.Name+": "+h)
			}
		}
		if hidden != nil {
			return errors.New("the API never shows the values of secrets and check headers, so these would be lost:\n" +
				strings.Join(hidden, "\n") + "\n" +
				"Give --omit-secrets to export them without (applying the file then removes them), or name the services to export.")
		}
	}
	return writeRegistry(c, services)
}

// getServices returns the services of the reply to a GET of one service
// (one) or of the list.
func getServices(raw []byte, one bool) ([]apiService, error) {
	if one {
		s, err := decode[apiService](raw)
		return []apiService{s}, err
	}
	list, err := decode[struct{ Services []apiService }](raw)
	return list.Services, err
}
