// Command external-secrets is the External Secrets Operator's controller, built from its Go module as its own
// main.go does. ESO >= v1.0 splits providers into sub-modules that the Go module proxy here does not serve, so
// the project pins v0.20.4, the newest single-module release the proxy serves (it compiles every provider in).
// Not older: from v0.19.1 ESO no longer re-generates into an immutable target Secret over and over (upstream
// issue #4976), which on v0.16 kept a healthy install warning; from v0.20.0 a namespaced BeyondTrust store can
// no longer read Secrets of other namespaces (#5311).
package main

import (
	"github.com/external-secrets/external-secrets/cmd/controller"
)

func main() {
	controller.Execute()
}
