// Command pause is the sandbox ("pause") container of the e2e cluster's real node: no registry
// is reachable here, so registry.k8s.io/pause cannot be pulled. It does what that image's
// pause.c (kubernetes/build/pause/linux/pause.c) does: hold the pod's namespaces open, reap the
// children re-parented to it when the pod shares its process namespace, and exit on SIGINT or
// SIGTERM. Built static (CGO_ENABLED=0) and packed as an image by e2e/realnode.sh.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", s)
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
