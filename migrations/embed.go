// Package migrations holds Ledgerline's PostgreSQL schema as numbered plain SQL
// files, applied in order at start-up by platform/postgres (jackc/tern).
//
// Add a change as the next number (NNN_what.sql); never edit a file that has shipped.
// tern renders each file as a Go text/template, so a literal "{{" must be escaped.
package migrations

import "embed"

// FS holds every migration.
//
//go:embed *.sql
var FS embed.FS
