package kubesource

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaseName is the coordination.k8s.io Lease whose holder writes the
// objects' status and EndpointSlices.
const LeaseName = "tpdns-writer"

// The Lease's timing: a holder that dies is replaced within
// leaseDuration; one that stops releases it at once.
const (
	leaseDuration = 10 * time.Second
	leaseRenew    = 7 * time.Second
	leaseRetry    = 2 * time.Second
)

// serviceAccountNamespace is where a pod finds its own namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// OwnNamespace is the namespace tpdns runs in, where its Lease is kept:
// POD_NAMESPACE (the downward API), else the pod's service account's, else
// the kubeconfig context's, else "default".
func OwnNamespace(kubeconfig string) string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if kubeconfig == "" {
		if b, err := os.ReadFile(serviceAccountNamespace); err == nil && strings.TrimSpace(string(b)) != "" {
			return strings.TrimSpace(string(b))
		}
		return "default"
	}
	cfg := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, &clientcmd.ConfigOverrides{})
	if ns, _, err := cfg.Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}

// Lead competes for the Lease name in namespace as identity until ctx
// ends: lead is called with a context that ends when this replica stops
// holding it, and must return at once (the work it starts watches that
// context). The Lease is released when ctx ends.
func (s *Source) Lead(ctx context.Context, namespace, name, identity string, lead func(context.Context), lost func()) error {
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, namespace, name,
		s.core.CoreV1(), s.core.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		return fmt.Errorf("kubernetes: lease %s/%s: %w", namespace, name, err)
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            name,
		LeaseDuration:   leaseDuration,
		RenewDeadline:   leaseRenew,
		RetryPeriod:     leaseRetry,
		ReleaseOnCancel: true,
		Callbacks:       leaderelection.LeaderCallbacks{OnStartedLeading: lead, OnStoppedLeading: lost},
	})
	if err != nil {
		return fmt.Errorf("kubernetes: lease %s/%s: %w", namespace, name, err)
	}
	for ctx.Err() == nil {
		le.Run(ctx) // returns when the Lease is lost, or ctx ends
	}
	return nil
}
