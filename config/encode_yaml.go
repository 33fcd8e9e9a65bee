package config

import (
	"bytes"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Commented is a service as EncodeYAML writes it: with comment lines above
// it, each without its "# ".
type Commented struct {
	Service  Service
	Comments []string
}

// EncodeYAML writes services as a registry file that ParseYAML reads back
// as the same services, and that EncodeYAML then writes again byte for
// byte: the fields in the order of the specification's example, what is
// left at its default left out (a protocol tcp, an endpoint's default
// label, weight 1, a check's defaults, the whole check when its type is
// none), an endpoint in the short form ("10.0.0.10", "10.0.0.10:1522")
// when it has nothing else, maps sorted by key. It writes secrets as they
// are: a caller that has only masked values leaves them out.
func EncodeYAML(services []Commented) []byte {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	if len(services) == 0 {
		list.Style = yaml.FlowStyle
	}
	for _, c := range services {
		n := serviceNode(c.Service)
		if len(c.Comments) > 0 {
			n.HeadComment = "# " + strings.Join(c.Comments, "\n# ")
		}
		list.Content = append(list.Content, n)
	}
	root := mapping(str("services"), list)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	// Nodes built here encode without fail.
	_ = enc.Encode(root)
	_ = enc.Close()
	return b.Bytes()
}

func serviceNode(s Service) *yaml.Node {
	n := mapping(str("name"), str(s.Name))
	if len(s.Ports) > 0 {
		ports := &yaml.Node{Kind: yaml.SequenceNode}
		for _, p := range s.Ports {
			pn := mapping(str("name"), str(p.Name), str("port"), integer(int64(p.Number)))
			if p.Protocol != DefaultProtocol && p.Protocol != "" {
				add(pn, "protocol", str(p.Protocol))
			}
			ports.Content = append(ports.Content, pn)
		}
		add(n, "ports", ports)
	}
	if len(s.Endpoints) > 0 {
		eps := &yaml.Node{Kind: yaml.SequenceNode}
		for _, ep := range s.Endpoints {
			eps.Content = append(eps.Content, endpointNode(ep))
		}
		add(n, "endpoints", eps)
	}
	if len(s.Connection) > 0 {
		add(n, "connection", stringMap(s.Connection))
	}
	if len(s.Secrets) > 0 {
		add(n, "secrets", stringMap(s.Secrets))
	}
	prefixes := func(key string, list []string) {
		if len(list) > 0 {
			l := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, v := range list {
				l.Content = append(l.Content, str(v))
			}
			add(n, key, l)
		}
	}
	var secretsAllow, allow []string
	for _, p := range s.SecretsAllow {
		secretsAllow = append(secretsAllow, p.String())
	}
	for _, p := range s.Allow {
		allow = append(allow, p.String())
	}
	prefixes("secrets_allow", secretsAllow)
	prefixes("secrets_keys", s.SecretsKeys)
	prefixes("allow", allow)
	if s.TTL != nil {
		add(n, "ttl", integer(int64(*s.TTL)))
	}
	if c := s.Check; c.Type != CheckNone && c.Type != "" {
		add(n, "check", checkNode(c))
	}
	return n
}

// endpointNode is an endpoint in the short form when it has nothing but
// an address and a port, else in the long form.
func endpointNode(ep Endpoint) *yaml.Node {
	label := ep.Label
	if ep.IsHost() || label == dashLabel(ep.Address) {
		label = ""
	}
	if label == "" && ep.Priority == 0 && ep.Weight == DefaultWeight && !ep.Disabled {
		if ep.Port == 0 {
			return str(ep.Address)
		}
		return str(net.JoinHostPort(ep.Address, strconv.Itoa(int(ep.Port))))
	}
	n := mapping(str("address"), str(ep.Address))
	if ep.Port != 0 {
		add(n, "port", integer(int64(ep.Port)))
	}
	if label != "" {
		add(n, "name", str(label))
	}
	if ep.Priority != 0 {
		add(n, "priority", integer(int64(ep.Priority)))
	}
	if ep.Weight != DefaultWeight {
		add(n, "weight", integer(int64(ep.Weight)))
	}
	if ep.Disabled {
		add(n, "disabled", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	return n
}

// checkNode is a check without the fields at their defaults.
func checkNode(c Check) *yaml.Node {
	n := mapping(str("type"), str(c.Type))
	if c.ServiceName != "" {
		add(n, "service_name", str(c.ServiceName))
	}
	if c.Port != "" {
		if v, err := strconv.Atoi(c.Port); err == nil {
			add(n, "port", integer(int64(v)))
		} else {
			add(n, "port", str(c.Port))
		}
	}
	if c.Path != DefaultCheckPath && c.Path != "" {
		add(n, "path", str(c.Path))
	}
	if c.Host != "" {
		add(n, "host", str(c.Host))
	}
	if len(c.Headers) > 0 {
		add(n, "headers", stringMap(c.Headers))
	}
	if c.ExpectMin != DefaultExpectMin || c.ExpectMax != DefaultExpectMax {
		add(n, "expect", str(expectString(c.ExpectMin, c.ExpectMax)))
	}
	if c.TLSSkipVerify {
		add(n, "tls_skip_verify", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	if c.Interval != DefaultCheckInterval {
		add(n, "interval", str(durationString(c.Interval)))
	}
	// The default timeout depends on the interval (applyDefaults).
	if c.Timeout != defaultTimeout(c.Interval) {
		add(n, "timeout", str(durationString(c.Timeout)))
	}
	if c.Rise != DefaultCheckRise {
		add(n, "rise", integer(int64(c.Rise)))
	}
	if c.Fall != DefaultCheckFall {
		add(n, "fall", integer(int64(c.Fall)))
	}
	return n
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func integer(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

// mapping is a mapping of the keys and values given in turn.
func mapping(kv ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Content: kv} }

// add appends key: v to the mapping n.
func add(n *yaml.Node, key string, v *yaml.Node) { n.Content = append(n.Content, str(key), v) }

// stringMap is m as a mapping of strings, sorted by key.
func stringMap(m map[string]string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		add(n, k, str(m[k]))
	}
	return n
}
