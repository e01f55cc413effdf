// Package submission will be Ledgerline's submission service: delivering filings to
// regulators exactly once through http, sftp or directory channels, with receipts.
// See DESIGN.md, "Submission". Not built yet: this module only reserves its place in
// the workspace.
package submission
