// Command etcd is the etcd server used as storage by the kube-apiserver
// built from the parent package. It is the same entry point as etcd's own
// main.go; the version is the go.etcd.io/etcd/server/v3 that k8s.io/kubernetes
// selects in go.mod, so the build reuses the etcd client, gRPC and protobuf
// packages that the API server compiles anyway.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
