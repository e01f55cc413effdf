// Package rules will be Ledgerline's rules service: CEL rule sets that turn the
// events of the JetStream event store into figures in PostgreSQL, one contribution
// row per (figure, event) for full lineage. See DESIGN.md, "Rules". Not built yet:
// this module only reserves its place in the workspace.
package rules
