//go:build tools

// Package tools pins kubeconform, which validates the chart's rendered manifests
// against JSON schemas generated locally (tests/tests/chart.rs).
package tools

import _ "github.com/yannh/kubeconform/cmd/kubeconform"
