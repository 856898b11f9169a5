// Command etcd is the real etcd server, at the version go.mod pins (the one
// k8s.io/kubernetes requires). It is the upstream main package of
// go.etcd.io/etcd/server/v3 verbatim, placed here so that it builds in the same
// `go build` invocation as the other binaries and is named "etcd".
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
