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
			tp.kubeChanged(ctx, src, objects)
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

// kubeChanged serves the valid services of objects. The objects not served
// (invalid, or a name the file or the store has) are logged and get a
// Warning event, once per reason.
func (tp *ThirdParty) kubeChanged(ctx context.Context, src *kubesource.Source, objects []kubesource.Object) {
	services := make(map[string]config.Service, len(objects))
	for _, o := range objects {
		if o.Err == nil {
			services[o.Service.Name] = o.Service
		}
	}
	tp.reg.SetKube(services)
	conflicts := tp.reg.Snapshot().KubeConflicts
	notServed := map[string]string{}
	var warn []func()
	tp.mu.Lock()
	for _, o := range objects {
		key, reason, why := o.Namespace+"/"+o.Name, "", ""
		switch {
		case o.Err != nil:
			reason, why = "Invalid", o.Err.Error()
		case conflicts[o.Service.Name] != "":
			reason, why = "Clash", conflicts[o.Service.Name]
		default:
			continue
		}
		notServed[key] = why
		if tp.kubeNotServed[key] == why {
			continue
		}
		log.Printf("[ERROR] plugin/thirdparty: ThirdPartyService %s is not served: %s", key, why)
		warn = append(warn, func() {
			if err := src.Warn(ctx, o, reason, "not served: "+why); err != nil && ctx.Err() == nil {
				log.Printf("[ERROR] plugin/thirdparty: %v", err)
			}
		})
	}
	tp.kubeNotServed = notServed
	tp.mu.Unlock()
	for _, w := range warn {
		w()
	}
}
