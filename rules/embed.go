// Package rules holds the sample bank's rule sets (CEL, format in DESIGN.md
// "Rules" and docs/writing-rules.md), embedded so that `ledgerline demo` can
// onboard them wherever it runs.
package rules

import "embed"

// FS holds every rule set file.
//
//go:embed *.yaml
var FS embed.FS

// Order is the order the sample rule sets onboard in: credit-risk and liquidity
// refer to figures of own-funds.
var Order = []string{"own-funds.yaml", "credit-risk.yaml", "liquidity.yaml"}
