// Package schemas holds the JSON Schemas (draft 2020-12) that every Ledgerline event is
// validated against, embedded into the binaries, plus sample events.
//
// Layout of this folder:
//
//	defs.schema.json       shared $defs: decimal, currency, date, identifier
//	envelope.schema.json   the event envelope (id, source, type, schema_version, subject,
//	                       occurred_at, data, supersedes); type "void" carries no data
//	<type>/v<N>.json       schema of the envelope's data object for event type <type>,
//	                       schema_version N, e.g. loan.balance/v1.json
//	examples/*.ndjson      sample events, one envelope per line (not schemas)
//
// Every schema's $id is BaseURL followed by its path in this folder, e.g.
// https://ledgerline.dev/schemas/loan.balance/v1.json, and schemas refer to the shared
// definitions by absolute URL
// (https://ledgerline.dev/schemas/defs.schema.json#/$defs/decimal). A validator therefore
// loads every file of FS as a resource under BaseURL+path before compiling any of them.
//
// Money and quantities are always exact decimals carried as JSON strings ("1234.56"),
// never JSON numbers. A new version of an event type is a new file v<N+1>.json; published
// versions are never edited, because stored events keep their schema_version for ever.
package schemas

import "embed"

// BaseURL is the common prefix of every schema $id; the rest is the file's path in FS.
const BaseURL = "https://ledgerline.dev/schemas/"

// FS holds the envelope, the shared definitions and every versioned event data schema,
// at their paths relative to this folder (e.g. "loan.balance/v1.json").
//
//go:embed envelope.schema.json defs.schema.json */v*.json
var FS embed.FS

// Examples holds sample events under "examples/": bank-2026-10.ndjson (valid events of a
// small fictional bank for October 2026) and bad-events.ndjson (one invalid event per
// line, the reason in its id).
//
//go:embed examples
var Examples embed.FS
