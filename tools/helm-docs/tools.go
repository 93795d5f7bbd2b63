//go:build tools

// Package tools pins helm-docs, which generates the values table of charts/akp/README.md
// from the `# --` comments of values.yaml (scripts/chart-docs.sh; drift checked by
// scripts/test.sh).
package tools

import _ "github.com/norwoodj/helm-docs/cmd/helm-docs"
