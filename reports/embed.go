// Package reports holds the sample bank's report templates (one folder per
// template: template.yaml and the regulator's layout.xlsx; format in DESIGN.md
// "Report templates" and docs/onboarding-templates.md), embedded so that
// `ledgerline demo` can onboard them wherever it runs.
package reports

import "embed"

// FS holds every template folder.
//
//go:embed */template.yaml */layout.xlsx
var FS embed.FS

// Order lists the sample templates.
var Order = []string{"corep-own-funds"}
