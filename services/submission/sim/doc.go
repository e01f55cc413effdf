// Package sim is the regulator simulator: a real HTTP server that plays a
// supervisor's upload portal. The demo submits its first filing to it (with no
// channel configured, `ledgerline serve` starts one and names it
// regulator-sim) and the submission tests deliver to it through the httpchan
// channel, with failures injected on purpose. Its state lives in memory.
//
// # Protocol
//
// Every /api/v1 call needs "Authorization: Bearer <token>" when Config.Token is
// set (else 401). Errors are JSON
//
//	{"error": {"code": "...", "message": "...", "details": [{"severity","code","message"}]}}
//
// where details is the regulator's feedback on the refused upload.
//
// POST /api/v1/submissions uploads one submission as multipart/form-data: one
// part "manifest" holding
//
//	{"submission_id","filing_id","template","period","amends": "<receipt id or empty>",
//	 "files": [{"name","format","sha256"}]}
//
// and one part per file, form name "file", filename the file's name. The header
// Idempotency-Key is required (400 without it). The upload is refused with 422
// and feedback naming the problem when a manifest file is missing, unlisted or
// its SHA-256 does not match, when a format of Config.ExpectedFormats is
// missing, when a json file is not a Ledgerline filing json
//
//	{"template","version","period","as_of_seq","currency",
//	 "cells": {"<code>": "<decimal string>"},
//	 "tables": {"<code>": [{"<dim>": "...", "value": "<decimal string>"}]},
//	 "validations": [{"id","severity","passed"}]}
//
// (required keys, decimal strings, template and period equal to the
// manifest's), or when amends does not name a receipt of the same template and
// period. A stored upload answers 201
//
//	{"receipt_id","status":"received","received_at", ...}
//
// The same Idempotency-Key again answers 200 with the same receipt and stores
// nothing; with different content it answers 409 idempotency_conflict.
//
// GET /api/v1/submissions?idempotency_key=K answers 200 with the receipt stored
// under K, or 404.
//
// GET /api/v1/submissions/{receipt_id} answers the receipt
//
//	{"receipt_id","idempotency_key","submission_id","filing_id","template","period",
//	 "amends","amended_by","status","received_at","feedback":[...],"files":[...]}
//
// whose status is received, then validating once Config.ValidateAfter has
// passed since received_at, then accepted or rejected once Config.DecideAfter
// has passed since received_at (by Config.Now).
//
// # Faults
//
// Faults are injected with Simulator.Inject or POST /_sim/faults
// {"mode": "5xx"|"timeout"|"drop"|"reject", "count": N}, which sets how many
// coming uploads the fault hits (0 clears it); GET /_sim/faults shows what is
// pending and DELETE /_sim/faults clears everything.
//
//   - 5xx answers the next N uploads 503 before looking at them; nothing is stored.
//   - timeout stores the next N new uploads (they are received and count as a
//     delivery), then holds the answer for Config.HangFor or until the client
//     gives up: a client timeout after the regulator received the files.
//   - drop stores the next N new uploads and closes the connection without an
//     answer.
//   - reject lets the next N new uploads be stored as usual but end rejected,
//     with error feedback.
//
// GET /_sim/deliveries answers, per idempotency key, how many times content was
// stored under it (a correct client keeps it at 1), how many uploads carried
// the key, and the receipt; Simulator.Deliveries, Attempts and Receipts give
// the same to Go tests. The /_sim endpoints need no token.
package sim
