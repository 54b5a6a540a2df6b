//go:build tools

// Helm's CLI, built from its Go module by tools/local/helm.ts for the chart tests (lint, template, install,
// upgrade, uninstall against the local control plane). Never part of the product.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
