package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// describe writes a service for a person: its fields, then a table of its
// endpoints and their health, with more columns when wide.
func describe(w io.Writer, s service, now time.Time, color, wide bool) error {
	f := table{}
	f.add("Name:", s.Name)
	f.add("Origin:", cell(s.Origin))
	if s.ETag != "" {
		f.add("ETag:", s.ETag)
	}
	if s.Conflict != "" {
		f.add("Conflict:", cell(s.Conflict)+" (not served)")
	}
	f.add("Ports:", portList(s.Ports))
	f.add("TTL:", ttlText(s.TTL))
	f.add("Allow:", orElse(strings.Join(s.Allow, ", "), "everyone"))
	f.add("Secrets allow:", orElse(strings.Join(s.SecretsAllow, ", "), "nobody"))
	f.add("Check:", checkText(s.Check))
	addVars(&f, "Connection:", s.Connection)
	addVars(&f, "Secrets:", s.Secrets)
	up, total := s.upTotal()
	f.add("Endpoints:", fmt.Sprintf("%d/%d up", up, total))
	if err := f.write(w); err != nil {
		return err
	}
	if len(s.Endpoints) == 0 {
		return nil
	}

	t := table{indent: "  "}
	if wide {
		t.add("ADDRESS", "NAME", "PORT", "PRIORITY", "WEIGHT", "STATE", "LAST CHECK", "LATENCY", "EXPIRES", "LAST ERROR")
	} else {
		t.add("ADDRESS", "NAME", "PORT", "STATE", "LAST CHECK", "LAST ERROR")
	}
	for _, e := range s.Endpoints {
		if wide {
			t.add(e.Address, cell(e.Name), endpointPort(e, s.Ports), strconv.Itoa(e.Priority), strconv.Itoa(e.Weight), e.state(),
				s.lastCheck(now, e), cell(e.Health.Latency), until(now, e.Expires), cell(e.Health.LastError))
			continue
		}
		t.add(e.Address, cell(e.Name), endpointPort(e, s.Ports), e.state(),
			s.lastCheck(now, e), cell(e.Health.LastError))
	}
	if color {
		colorStates(&t, slices.Index(t.rows[0], "STATE"))
	}
	return t.write(w)
}

// addVars adds KEY=value rows, sorted by key as the TXT record has them,
// the label on the first only.
func addVars(t *table, label string, vars map[string]string) {
	if len(vars) == 0 {
		t.add(label, "-")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		t.add(label, cell(k+"="+vars[k]))
		label = ""
	}
}

// orElse is s, or what it means when empty.
func orElse(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}
