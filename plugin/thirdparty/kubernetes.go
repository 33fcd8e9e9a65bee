package thirdparty

import (
	"context"
	"log"
	"time"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/kubesource"
)

// kubeFirstReadWait is how long a start waits for the first read of the
// ThirdPartyService objects, so that a restart does not answer NXDOMAIN
// for them meanwhile; an API server slower than that is not waited for.
const kubeFirstReadWait = 5 * time.Second

// startKube follows the ThirdPartyService objects: their valid services
// are served after the file's and the store's.
func (tp *ThirdParty) startKube(ctx context.Context) error {
	o := tp.opts.kube
	cfg, err := kubesource.RESTConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	src, err := kubesource.New(cfg, kubesource.Options{Namespaces: o.namespaces, Selector: o.selector, Config: tp.configOptions()})
	if err != nil {
		return err
	}
	first := make(chan struct{})
	tp.background.Go(func() {
		err := src.Run(ctx, func(objects []kubesource.Object) {
			tp.kubeChanged(objects)
			select {
			case <-first:
			default:
				close(first)
			}
		})
		if err != nil && ctx.Err() == nil {
			log.Printf("[ERROR] plugin/thirdparty: kubernetes: %v", err)
		}
	})
	select {
	case <-first:
	case <-time.After(kubeFirstReadWait):
		log.Printf("[WARNING] plugin/thirdparty: kubernetes: the ThirdPartyService objects were not read within %s; they are served once they are", kubeFirstReadWait)
	}
	return nil
}

// kubeChanged serves the valid services of objects, and logs the objects
// not served, once per reason.
func (tp *ThirdParty) kubeChanged(objects []kubesource.Object) {
	services := make(map[string]config.Service, len(objects))
	invalid := map[string]string{}
	for _, o := range objects {
		if o.Err != nil {
			invalid[o.Namespace+"/"+o.Name] = o.Err.Error()
			continue
		}
		services[o.Service.Name] = o.Service
	}
	tp.reg.SetKube(services)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for key, why := range invalid {
		if tp.kubeInvalid[key] != why {
			log.Printf("[ERROR] plugin/thirdparty: ThirdPartyService %s is invalid and not served: %s", key, why)
		}
	}
	tp.kubeInvalid = invalid
}
