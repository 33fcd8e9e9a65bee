package kubesource

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tpdns/tpdns/config"
)

// Labels of the Services and EndpointSlices tpdns keeps.
const (
	// ManagedByLabel and ManagedBy mark a Service as tpdns's.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "tpdns"
	// SliceManagedBy is the EndpointSlices' endpointslice.kubernetes.io/managed-by:
	// not the EndpointSlice controller's, which leaves them alone.
	SliceManagedBy = "tpdns.io"
)

// ErrServiceExists is returned by SyncEndpoints when the object's Service
// exists and is not the object's: it is left alone.
var ErrServiceExists = errors.New("a Service of that name exists and is not this object's")

// SliceEndpoint is an IP endpoint of an object, for its EndpointSlices.
type SliceEndpoint struct {
	IP netip.Addr
	// Ready endpoints are listed; the others only shape the slices.
	Ready bool
	// Port replaces the number of the service's only port; 0 keeps it.
	Port uint16
}

// SliceAddress reports whether an EndpointSlice may list ip: the API
// server refuses the unspecified, loopback and link-local addresses, and
// host names have no place in a slice of addresses.
func SliceAddress(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast()
}

// SyncEndpoints keeps o's selector-less Service, with ports, and its
// EndpointSlices listing the ready endpoints; both are owned by o, so that the
// garbage collector deletes them with it. With valid false (o is not
// served) the Service is left as it is and the slices are removed.
func (s *Source) SyncEndpoints(ctx context.Context, o Object, valid bool, ports []config.Port, endpoints []SliceEndpoint) error {
	owner := metav1.OwnerReference{APIVersion: Group + "/" + Version, Kind: Kind, Name: o.Name, UID: o.UID,
		Controller: new(true), BlockOwnerDeletion: new(true)}
	if valid {
		if err := s.syncService(ctx, o, owner, ports); err != nil {
			return err
		}
	}
	want := map[string]*discoveryv1.EndpointSlice{}
	if valid {
		for _, sl := range slicesFor(o, owner, ports, endpoints) {
			want[sl.Name] = sl
		}
	}
	api := s.core.DiscoveryV1().EndpointSlices(o.Namespace)
	have, err := api.List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: o.Name, discoveryv1.LabelManagedBy: SliceManagedBy}).String()})
	if err != nil {
		return fmt.Errorf("kubernetes: EndpointSlices of %s/%s: %w", o.Namespace, o.Name, err)
	}
	for i := range have.Items {
		cur := &have.Items[i]
		w, ok := want[cur.Name]
		delete(want, cur.Name)
		switch {
		case !ok:
			err = api.Delete(ctx, cur.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}})
			if apierrors.IsNotFound(err) {
				err = nil
			}
		case !apiequality.Semantic.DeepEqual(cur.Endpoints, w.Endpoints) || !apiequality.Semantic.DeepEqual(cur.Ports, w.Ports) ||
			!apiequality.Semantic.DeepEqual(cur.OwnerReferences, w.OwnerReferences):
			cur.Endpoints, cur.Ports, cur.OwnerReferences = w.Endpoints, w.Ports, w.OwnerReferences
			_, err = api.Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
		}
		if err != nil {
			return fmt.Errorf("kubernetes: EndpointSlice %s/%s: %w", o.Namespace, cur.Name, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, err := api.Create(ctx, want[name], metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
			return fmt.Errorf("kubernetes: EndpointSlice %s/%s: %w", o.Namespace, name, err)
		}
	}
	return nil
}

// syncService creates or updates o's Service; one that is not o's is
// ErrServiceExists.
func (s *Source) syncService(ctx context.Context, o Object, owner metav1.OwnerReference, ports []config.Port) error {
	api := s.core.CoreV1().Services(o.Namespace)
	want := serviceFor(o, owner, ports)
	cur, err := api.Get(ctx, o.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = api.Create(ctx, want, metav1.CreateOptions{FieldManager: FieldManager})
	case err != nil:
	case !slices.ContainsFunc(cur.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == o.UID }):
		return ErrServiceExists
	case (cur.Spec.ClusterIP == corev1.ClusterIPNone) != (want.Spec.ClusterIP == corev1.ClusterIPNone):
		// Headless or not cannot change: a new Service.
		if err = api.Delete(ctx, o.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err == nil {
			_, err = api.Create(ctx, want, metav1.CreateOptions{FieldManager: FieldManager})
		}
	case !apiequality.Semantic.DeepEqual(cur.Spec.Ports, want.Spec.Ports):
		cur.Spec.Ports = want.Spec.Ports
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
	}
	if err != nil {
		return fmt.Errorf("kubernetes: Service %s/%s: %w", o.Namespace, o.Name, err)
	}
	return nil
}

// serviceFor is o's Service: no selector, so that its endpoints are the
// slices tpdns writes; headless without ports (a ClusterIP Service needs one).
func serviceFor(o Object, owner metav1.OwnerReference, ports []config.Port) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: map[string]string{ManagedByLabel: ManagedBy},
			OwnerReferences: []metav1.OwnerReference{owner}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP},
	}
	if len(ports) == 0 {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: portName(p), Protocol: protocol(p),
			Port: int32(p.Number), TargetPort: intstr.FromInt32(int32(p.Number))})
	}
	return svc
}

// slicesFor is one slice per address family and port among endpoints:
// NAME-ipv4, NAME-ipv6, NAME-ipv4-PORT for the endpoints of a port of their
// own. The slices follow the spec, not the health, so that an endpoint
// going down changes a slice and does not delete it; each lists only the
// ready endpoints.
func slicesFor(o Object, owner metav1.OwnerReference, ports []config.Port, endpoints []SliceEndpoint) []*discoveryv1.EndpointSlice {
	type group struct {
		family discoveryv1.AddressType
		port   uint16
	}
	members := map[group][]discoveryv1.Endpoint{}
	for _, ep := range endpoints {
		g := group{discoveryv1.AddressTypeIPv4, ep.Port}
		if ep.IP.Is6() {
			g.family = discoveryv1.AddressTypeIPv6
		}
		list := members[g]
		if ep.Ready {
			list = append(list, discoveryv1.Endpoint{Addresses: []string{ep.IP.String()},
				Conditions: discoveryv1.EndpointConditions{Ready: new(true), Serving: new(true), Terminating: new(false)}})
		}
		members[g] = list
	}
	groups := slices.SortedFunc(maps.Keys(members), func(a, b group) int {
		return cmp.Or(cmp.Compare(a.family, b.family), cmp.Compare(a.port, b.port))
	})
	var out []*discoveryv1.EndpointSlice
	for _, g := range groups {
		name := o.Name + "-" + strings.ToLower(string(g.family))
		if g.port != 0 {
			name += "-" + strconv.Itoa(int(g.port))
		}
		sl := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace,
				Labels:          map[string]string{discoveryv1.LabelServiceName: o.Name, discoveryv1.LabelManagedBy: SliceManagedBy},
				OwnerReferences: []metav1.OwnerReference{owner}},
			AddressType: g.family,
			Endpoints:   members[g],
		}
		for _, p := range ports {
			n := int32(p.Number)
			if g.port != 0 {
				n = int32(g.port)
			}
			sl.Ports = append(sl.Ports, discoveryv1.EndpointPort{Name: new(portName(p)), Protocol: new(protocol(p)), Port: &n})
		}
		out = append(out, sl)
	}
	return out
}

// portName is p's name as a Service port's: a DNS label, lower case (RFC
// 6335 names are case-insensitive).
func portName(p config.Port) string { return strings.ToLower(p.Name) }

func protocol(p config.Port) corev1.Protocol {
	if p.Protocol == "udp" {
		return corev1.ProtocolUDP
	}
	return corev1.ProtocolTCP
}
