package main

import (
	"context"
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
	if c.opts.output == outputJSON {
		return writeJSON(c.stdout, raw)
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
	t := table{}
	t.add("SERVICE", "ADDRESS", "STATE", "LAST CHECK", "LATENCY", "LAST ERROR")
	for _, s := range services {
		for _, e := range s.Endpoints {
			t.add(s.Name, e.Address, e.state(), age(now, e.Health.LastCheck),
				cell(e.Health.Latency), cell(e.Health.LastError))
		}
	}
	if c.color {
		colorStates(&t, 2)
	}
	return t.write(c.stdout)
}
