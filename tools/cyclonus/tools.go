//go:build tools

// Package tools pins cyclonus, a NetworkPolicy engine written outside this project, which
// judges the segmentation table against the policies the operator wrote
// (tests/tests/segmentation.rs).
package tools

import _ "github.com/mattfenwick/cyclonus/cmd/cyclonus"
