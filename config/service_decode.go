package config

import (
	"math"

	"go.yaml.in/yaml/v3"
)

// serviceFields are the keys of a service, in the order of the README.
var serviceFields = []string{"name", "ports", "endpoints", "connection", "secrets", "secrets_allow", "secrets_keys", "allow", "ttl", "check"}

// serviceDecl is a service being decoded: the Service so far, and where
// its parts are in the document, for the checks that relate the parts to
// each other and to other services.
type serviceDecl struct {
	svc  Service
	path string // "services[2]"; "" for an API body
	node *yaml.Node
	// name is the node of the name, nil unless svc.Name is valid.
	name *yaml.Node
	// ports and endpoints are parallel to svc.Ports and svc.Endpoints.
	ports     []portDecl
	endpoints []endpointDecl
	// connection and secrets hold the node of each valid key.
	connection, secrets txtNodes
	check               checkDecl
}

// service decodes one service: a list item of a registry file, or an API
// body. It returns nil when n is not a mapping. What it returns is d's
// until the next call (see newServiceDecl).
func (d *decoder) service(n *yaml.Node, path string) *serviceDecl {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return nil
	}
	sd := d.newServiceDecl(path, n)
	f := d.fields(n, path, serviceFields)
	// Ports go before endpoints and the check, which refer to them.
	d.serviceName(sd, f.of("name"))
	d.ports(sd, f.of("ports"))
	d.endpoints(sd, f.of("endpoints"))
	sd.svc.Connection, sd.connection = d.txt(f.of("connection"), join(path, "connection"))
	sd.svc.Secrets, sd.secrets = d.txt(f.of("secrets"), join(path, "secrets"))
	d.checkTXTKeys(sd)
	d.checkRefs(sd)
	sd.svc.SecretsAllow = d.prefixes(f.of("secrets_allow"), join(path, "secrets_allow"))
	sd.svc.SecretsKeys = d.keyNames(f.of("secrets_keys"), join(path, "secrets_keys"))
	sd.svc.Allow = d.prefixes(f.of("allow"), join(path, "allow"))
	d.ttl(sd, f.of("ttl"))
	d.check(sd, f.of("check"))
	applyDefaults(sd)
	d.checkCheck(sd)
	d.checkLengths(sd)
	return sd
}

// newServiceDecl returns the serviceDecl for the service at n: the one of
// the service before, emptied, when there was one. The services of a
// registry file are decoded one at a time, and each one's serviceDecl is
// dropped once it is decoded, so one serves them all: a large registry
// would otherwise make a serviceDecl and its ports' and endpoints' slices
// for each service, about a third of what its parse allocates.
func (d *decoder) newServiceDecl(path string, n *yaml.Node) *serviceDecl {
	sd := d.spare
	if sd == nil {
		sd = new(serviceDecl)
		d.spare = sd
	}
	// Emptied, so that the nodes of the service before are not kept.
	ports, endpoints := sd.ports, sd.endpoints
	clear(ports)
	clear(endpoints)
	clear(d.entryBuf)
	d.entryBuf = d.entryBuf[:0]
	*sd = serviceDecl{path: path, node: n, ports: ports[:0], endpoints: endpoints[:0]}
	return sd
}

func (d *decoder) serviceName(sd *serviceDecl, e entry) {
	field := join(sd.path, "name")
	if e.val == nil {
		d.errorf(sd.node, field, "is required")
		return
	}
	name, ok := d.str(e.val, field, "a string")
	if !ok {
		return
	}
	name = asciiLower(name)
	if p := nameProblem(name); p != "" {
		d.errorf(resolve(e.val), field, "%s", p)
		return
	}
	sd.svc.Name, sd.name = name, resolve(e.val)
}

// ttl decodes the service's ttl: the TTL of its answers, 0 (never cache)
// included, as any DNS TTL, in whole seconds ("30s" is 30). (A heartbeat's
// ttl has the bounds of ttl.go.)
func (d *decoder) ttl(sd *serviceDecl, e entry) {
	if e.val == nil {
		return
	}
	if v, ok := d.seconds(e.val, join(sd.path, "ttl"), 0, math.MaxInt32); ok {
		ttl := uint32(v)
		sd.svc.TTL = &ttl
	}
}
