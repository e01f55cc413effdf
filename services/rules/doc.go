// Package rules is Ledgerline's rules service: CEL rule sets, onboarded as
// immutable versions, turn the events of the JetStream event store into
// contributions in PostgreSQL (one row per figure and event: the lineage grain),
// and figures are computed from them as of a (period, knowledge watermark).
//
// Layout: celenv (the CEL environment, with a decimal type), ruleset (parsing and
// checking rule set YAML), period (reporting periods), consumer (the stream
// consumers, exactly-once in effect), store (PostgreSQL), api (HTTP); the use
// cases are in this package.
package rules
