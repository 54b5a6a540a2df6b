// Command external-secrets is the External Secrets Operator's controller, built from its Go module as its own
// main.go does. ESO >= v1.0 splits providers into sub-modules that the Go module proxy here does not serve, so
// the project pins v0.16.2, the newest single-module release (it compiles every provider in).
package main

import (
	"github.com/external-secrets/external-secrets/cmd/controller"
)

func main() {
	controller.Execute()
}
