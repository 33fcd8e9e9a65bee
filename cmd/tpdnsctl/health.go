package main

import (
	"context"
	"slices"
)

// health shows the health of every endpoint, or of one service's.
func health(ctx context.Context, c *call) error {
	path := "/v1/services"
	if len(c.args) == 1 {
		path = servicePath(c.args[0])
	}
	raw, err := c.client.get(ctx, path)
	if err != nil {
		return err
	}
	switch c.opts.output {
	case outputJSON:
		return writeJSON(c.stdout, raw)
	case outputYAML:
		return writeYAML(c.stdout, raw)
	}
	var services []service
	if len(c.args) == 1 {
		s, err := decode[service](raw)
		if err != nil {
			return err
		}
		services = []service{s}
	} else {
		list, err := decode[serviceList](raw)
		if err != nil {
			return err
		}
		services = list.Services
	}

	now := c.now()
	wide := c.opts.output == outputWide
	t := table{}
	if wide {
		t.add("SERVICE", "ADDRESS", "NAME", "PORT", "STATE", "LAST CHECK", "LATENCY", "EXPIRES", "LAST ERROR")
	} else {
		t.add("SERVICE", "ADDRESS", "STATE", "LAST CHECK", "LATENCY", "LAST ERROR")
	}
	for _, s := range services {
		for _, e := range s.Endpoints {
			if wide {
				t.add(s.Name, e.Address, cell(e.Name), endpointPort(e, s.Ports), e.state(), s.lastCheck(now, e),
					cell(e.Health.Latency), until(now, e.Expires), cell(e.Health.LastError))
				continue
			}
			t.add(s.Name, e.Address, e.state(), s.lastCheck(now, e),
				cell(e.Health.Latency), cell(e.Health.LastError))
		}
	}
	if c.color {
		colorStates(&t, slices.Index(t.rows[0], "STATE"))
	}
	return t.write(c.stdout)
}
