// Command kube-apiserver is Kubernetes' API server built from the k8s.io/kubernetes
// Go module, for tpdns's tests (controller-runtime's envtest runs it through
// KUBEBUILDER_ASSETS). It is the same program as Kubernetes' cmd/kube-apiserver;
// `make kube-assets` builds it into a cache directory outside the clone.
//
// This directory is a module of its own so that the server's go.mod never
// requires k8s.io/kubernetes: go.mod pins k8s.io/kubernetes and points each of
// its staging modules (k8s.io/api, k8s.io/apiserver, ...) at the published
// release of the same Kubernetes version.
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob, as upstream's main

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
