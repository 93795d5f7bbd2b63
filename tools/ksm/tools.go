//go:build tools

// Package tools pins kube-state-metrics, the exporter of the namespace labels, containers
// and quotas that metering reads (docs/metrics-contract.md).
package tools

import _ "k8s.io/kube-state-metrics/v2"
