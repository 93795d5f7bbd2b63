//go:build tools

// Package tools pins Helm 3, which renders, lints and installs the chart in charts/akp.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
