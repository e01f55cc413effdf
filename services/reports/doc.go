// Package reports will be Ledgerline's reports service: report templates onboarded
// by the compliance team, rendered into filings (xlsx, csv, json) as of a period and
// a knowledge watermark. See DESIGN.md, "Report templates" and "Filings". Not built
// yet: this module only reserves its place in the workspace.
package reports
