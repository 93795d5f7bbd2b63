//go:build tools

// Package tools pins kwok, which makes fake Nodes Ready and runs Pods bound to them.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
