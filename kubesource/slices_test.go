package kubesource

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tpdns/tpdns/config"
)

func TestSlicesFor(t *testing.T) {
	ep := func(ip string, port uint16, ready bool) SliceEndpoint {
		return SliceEndpoint{IP: netip.MustParseAddr(ip), Port: port, Ready: ready}
	}
	o := Object{Namespace: "finance", Name: "oracle"}
	ports := []config.Port{{Name: "DB", Number: 1521, Protocol: "tcp"}}
	got := slicesFor(o, metav1.OwnerReference{}, ports, []SliceEndpoint{
		ep("2001:db8::1", 0, true), ep("192.0.2.10", 0, true), ep("192.0.2.11", 0, false),
		ep("192.0.2.12", 1522, false), ep("192.0.2.13", 1522, true),
	})
	var summary []string
	for _, sl := range got {
		var addrs []string
		for _, e := range sl.Endpoints {
			addrs = append(addrs, e.Addresses...)
		}
		summary = append(summary, fmt.Sprintf("%s %s %s:%d %v", sl.Name, sl.AddressType, *sl.Ports[0].Name, *sl.Ports[0].Port, addrs))
	}
	// One slice per family and port, named after them; only the ready
	// endpoints listed, a slice without any kept; port names lower case.
	assert.Equal(t, []string{
		"oracle-ipv4 IPv4 db:1521 [192.0.2.10]",
		"oracle-ipv4-1522 IPv4 db:1522 [192.0.2.13]",
		"oracle-ipv6 IPv6 db:1521 [2001:db8::1]",
	}, summary)

	got = slicesFor(o, metav1.OwnerReference{}, ports, []SliceEndpoint{ep("192.0.2.10", 0, false)})
	assert.Len(t, got, 1)
	assert.Empty(t, got[0].Endpoints, "no endpoint ready: an empty slice")
}

func TestSliceAddress(t *testing.T) {
	for ip, want := range map[string]bool{
		"192.0.2.10": true, "2001:db8::1": true, "10.0.0.1": true,
		"127.0.0.1": false, "::1": false, "0.0.0.0": false, "::": false,
		"169.254.1.1": false, "fe80::1": false, "224.0.0.251": false, "::ffff:127.0.0.1": false,
	} {
		assert.Equal(t, want, SliceAddress(netip.MustParseAddr(ip)), ip)
	}
	assert.False(t, SliceAddress(netip.Addr{}), "a host name")
}

func TestStatusSame(t *testing.T) {
	one, two := 1, 2
	at := func(s int64) *metav1.Time { return &metav1.Time{Time: metav1.Unix(s, 0).Time} }
	a := Status{Healthy: &one, Total: &two, Endpoints: []EndpointStatus{{Address: "192.0.2.10", State: "healthy", LastCheck: at(1)}},
		Conditions: []metav1.Condition{{Type: ConditionValid, Status: metav1.ConditionTrue, LastTransitionTime: *at(1)}}}
	b := a
	b.Endpoints = []EndpointStatus{{Address: "192.0.2.10", State: "healthy", LastCheck: at(2)}}
	b.Conditions = []metav1.Condition{{Type: ConditionValid, Status: metav1.ConditionTrue, LastTransitionTime: *at(2)}}
	assert.True(t, a.Same(b), "only the times differ")
	assert.Equal(t, at(1), a.Endpoints[0].LastCheck, "Same changes neither")
	b.Endpoints = []EndpointStatus{{Address: "192.0.2.10", State: "unhealthy", LastCheck: at(2)}}
	assert.False(t, a.Same(b))
	assert.False(t, a.Same(Status{}))
}
