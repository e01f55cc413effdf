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

// Order lists the sample templates: own funds first, whose tier 1 capital the
// large exposures' threshold and limit are a share of.
var Order = []string{"corep-own-funds", "corep-large-exposures", "lcr"}
