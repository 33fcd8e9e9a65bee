package kubesource

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tpdns/tpdns/config"
)

// GVR is the ThirdPartyService resource.
var GVR = schema.GroupVersionResource{Group: Group, Version: Version, Resource: Resource}

// settle is how long the source waits after a change for the changes that
// come with it (an apply of many objects) before it reads them all.
const settle = 20 * time.Millisecond

// Options configure a source.
type Options struct {
	// Kubeconfig is a kubeconfig file; "" for the in-cluster config.
	Kubeconfig string
	// Namespaces are watched; none: all.
	Namespaces []string
	// Selector selects the objects by label; nil: all.
	Selector labels.Selector
	// Config validates the services (their zones).
	Config config.Options
}

// Object is one ThirdPartyService as the source read it.
type Object struct {
	Namespace, Name string
	UID             types.UID
	Generation      int64
	// Service is the object's service when Err is nil.
	Service config.Service
	Err     error
	// Status is the object's status as read.
	Status Status
}

// Source follows the ThirdPartyService objects and the Secrets they name.
type Source struct {
	opts    Options
	http    *http.Client
	dynamic dynamic.Interface
	core    kubernetes.Interface

	mu      sync.Mutex
	objects []cache.GenericLister // one per namespace watched
	secrets []cache.Indexer
}

// RESTConfig is the client configuration of kubeconfig, or the in-cluster
// one when kubeconfig is "".
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kubernetes: in-cluster config: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubernetes %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

// New returns a source of the cluster cfg reaches. Close releases its
// connections once Run and Lead have returned.
func New(cfg *rest.Config, o Options) (*Source, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		// client-go's default, 5 requests a second, would take minutes to
		// write the status of a thousand objects after an outage.
		cfg.QPS, cfg.Burst = 50, 100
	}
	if cfg.Proxy == nil {
		// A proxy function, client-go's default one, makes the transport the
		// source's own (client-go shares one per TLS configuration
		// otherwise, open for the life of the process), so that Close closes
		// its connections: a reload leaves none behind.
		cfg.Proxy = utilnet.NewProxierWithNoProxyCIDR(http.ProxyFromEnvironment)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	core, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	if o.Selector == nil {
		o.Selector = labels.Everything()
	}
	return &Source{opts: o, http: hc, dynamic: dyn, core: core}, nil
}

// Close closes the source's idle connections: all of them once Run and
// Lead have returned.
func (s *Source) Close() { utilnet.CloseIdleConnectionsFor(s.http.Transport) }

// Run follows the objects until ctx ends, calling changed with every
// object after each change (after the first full read, and then at most
// once per settle), from one goroutine.
func (s *Source) Run(ctx context.Context, changed func([]Object)) error {
	namespaces := s.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	wake := make(chan struct{}, 1)
	notify := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { signal(wake) },
		UpdateFunc: func(any, any) { signal(wake) },
		DeleteFunc: func(any) { signal(wake) },
	}
	var synced []cache.InformerSynced
	var factories []interface{ Shutdown() }
	for _, ns := range namespaces {
		objects := dynamicinformer.NewFilteredDynamicSharedInformerFactory(s.dynamic, 0, ns, func(o *metav1.ListOptions) {
			o.LabelSelector = s.opts.Selector.String()
		})
		inf := objects.ForResource(GVR)
		if _, err := inf.Informer().AddEventHandler(notify); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
		secrets := informers.NewSharedInformerFactoryWithOptions(s.core, 0, informers.WithNamespace(ns))
		sec := secrets.Core().V1().Secrets().Informer()
		if _, err := sec.AddEventHandler(notify); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
		s.mu.Lock()
		s.objects = append(s.objects, inf.Lister())
		s.secrets = append(s.secrets, sec.GetIndexer())
		s.mu.Unlock()
		objects.Start(ctx.Done())
		secrets.Start(ctx.Done())
		synced = append(synced, inf.Informer().HasSynced, sec.HasSynced)
		factories = append(factories, objects, secrets)
	}
	defer func() {
		for _, f := range factories {
			f.Shutdown() // waits for the informers' goroutines
		}
	}()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	changed(s.read())
	timer := time.NewTimer(settle)
	timer.Stop()
	pending := false // a steady stream of changes is still read every settle
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
			if !pending {
				pending = true
				timer.Reset(settle)
			}
		case <-timer.C:
			pending = false
			changed(s.read())
		}
	}
}

// read converts every object the informers hold, in namespace and name
// order.
func (s *Source) read() []Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Object
	for i, lister := range s.objects {
		items, err := lister.List(labels.Everything())
		if err != nil {
			continue // a lister of an informer's cache does not fail
		}
		secrets := s.secrets[i]
		for _, item := range items {
			u, ok := item.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			o := Object{Namespace: u.GetNamespace(), Name: u.GetName(), UID: u.GetUID(), Generation: u.GetGeneration(), Status: statusOf(u.Object)}
			spec, _ := u.Object["spec"].(map[string]any)
			o.Service, o.Err = Convert(o.Namespace, o.Name, spec, secretsIn(secrets, o.Namespace), s.opts.Config)
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b Object) int {
		if a.Namespace != b.Namespace {
			return strings.Compare(a.Namespace, b.Namespace)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Warn records a Warning event about o, as `kubectl describe tps` shows
// it: reason is a CamelCase word (Invalid, Clash), message says why.
func (s *Source) Warn(ctx context.Context, o Object, reason, message string) error {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: o.Name + ".", Namespace: o.Namespace},
		InvolvedObject: corev1.ObjectReference{APIVersion: Group + "/" + Version, Kind: Kind,
			Namespace: o.Namespace, Name: o.Name, UID: o.UID},
		Reason: reason, Message: message, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "tpdns"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := s.core.CoreV1().Events(o.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("kubernetes: event on %s/%s: %w", o.Namespace, o.Name, err)
	}
	return nil
}

// secretsIn reads Secrets of namespace from the informer's cache.
func secretsIn(secrets cache.Indexer, namespace string) Secrets {
	return func(name string) (map[string][]byte, error) {
		item, ok, err := secrets.GetByKey(namespace + "/" + name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
		}
		secret, ok := item.(*corev1.Secret)
		if !ok {
			return nil, errors.New("not a Secret")
		}
		return maps.Clone(secret.Data), nil
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
