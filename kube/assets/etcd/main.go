// Command etcd is the etcd server (go.etcd.io/etcd/server/v3's etcdmain), built
// from Go modules for tpdns's tests: kube-apiserver v1.37 needs an etcd of the
// 3.6 line or newer (its streaming watch list), which Debian does not package.
// It is the same program as etcd's own main; `make kube-assets` builds it into a
// cache directory outside the clone, beside kube-apiserver.
//
// This directory is a module of its own so that the server's go.mod does not
// require the etcd server.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
