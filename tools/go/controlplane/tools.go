//go:build tools

// Helm's CLI, built from this module by tools/build/builds.ts for the chart tests (lint, template, install, upgrade,
// uninstall against the local control plane). Never part of the product. It lives in this module, not one of its
// own, so the Kubernetes libraries it shares with the control plane resolve to the same versions and are compiled
// once (a module of its own compiled them again: about 4 of a cold build's minutes).
package tools

import _ "helm.sh/helm/v3/cmd/helm"
