// etcd built from the same module graph as the apiserver, so the test control plane
// does not depend on whichever etcd a distribution happens to package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
