// Package csvmap turns an end-of-day CSV extract into event envelopes, as
// directed by a YAML mapping. It is the pure core of
//
//	ledgerline events import FILE.csv --mapping MAP.yaml
//
// which pushes the events it produces to POST /v1/events. The server
// validates each event against the JSON Schema of its type and version and
// quarantines the ones that fail, so this package does not repeat the
// schema's checks: it reports only what it cannot do itself (a missing
// column, a value that is not a decimal, a time it cannot place on the
// timeline). It does no I/O beyond the io.Reader it is given.
//
// # Mapping format
//
//	type: loan.balance            # required: event type, copied as is
//	schema_version: 1             # required: positive integer
//	source: core-banking          # required: copied as is
//	delimiter: ";"                # optional, default ","; one character ("\t" for tab)
//	timezone: Europe/Berlin       # optional IANA zone for times written without an offset
//	id: "cb-${as_of_date}-${loan_id}"      # required template: the idempotency key
//	subject: "${loan_id}"                  # required template: the business key
//	occurred_at: "${as_of_date}T18:00:00"  # required template: business time
//	occurred_at_format: "02.01.2006"       # optional Go layout for occurred_at
//	decimal_comma: false          # optional: true for "1.234,56" style decimals
//	thousands: "'"                # optional thousands separator, see Decimals
//	data:                         # each key becomes a field of event.data, in this order
//	  loan_id: "${loan_id}"                                  # short form: a JSON string
//	  outstanding: {value: "${outstanding}", type: decimal}  # long form
//	  days_past_due: {value: "${dpd}", type: integer}
//	  insured: {value: "${insured}", type: boolean}
//	  undrawn_commitment: {value: "${undrawn}", type: decimal, optional: true}
//
// The data keys above show every form; which keys an event type accepts is
// decided by its schema (schemas/<type>/v<N>.json), not by this package.
// Unknown keys, at the top level and inside a long-form data field, are
// errors, so that a misspelt optional key cannot be silently ignored.
// docs/examples/loans-eod.mapping.yaml with docs/examples/loans-eod.csv is a
// complete worked example.
//
// # Templates
//
// id, subject, occurred_at and every data value are templates. ${column}
// is replaced by the value of the CSV column with that header name; names
// are compared exactly (case-sensitive) after trimming whitespace from the
// header cells and the reference, and a UTF-8 byte order mark at the start
// of the file is ignored. $$ is a literal "$"; any other "$" is an error
// (it is usually a mistyped reference). All other text is literal. Column
// values are used exactly as they appear in the file, without trimming,
// except where a typed field or occurred_at is parsed.
//
// The id must refer to at least one column. Build it from the columns that
// identify the fact, such as the business date and the loan: importing the
// same file twice then yields duplicates, which the server answers as such,
// never double counts. The flip side: a corrected extract with the same ids
// is also treated as duplicates, so corrections need ids of their own.
//
// # Data field types
//
//	string   (default) the rendered text, as a JSON string
//	decimal  an exact decimal as a JSON string, e.g. "1234.56"; never a float
//	integer  a JSON number, parsed with strconv.ParseInt (64 bits)
//	boolean  true/false, yes/no, y/n or 1/0, case-insensitive, as JSON true/false
//
// A long-form field with optional: true is left out of event.data when its
// rendered value is empty or blank. Otherwise a blank decimal, integer or
// boolean is a row error, while a blank string is emitted as "".
//
// # Decimals
//
// A decimal value is trimmed, its thousands separators are removed and the
// decimal separator becomes "."; the result must match ^-?[0-9]+(\.[0-9]+)?$
// or the row is in error. Digits are never rounded or rewritten. With
// decimal_comma: false (the default) the decimal separator is "." and the
// thousands separator ","; with decimal_comma: true they are "," and ".".
// thousands overrides the thousands separator (e.g. " " or "'") and
// thousands: "" accepts none. Thousands separators must separate groups of
// exactly three digits, so "1234,56" in a file wrongly declared as using
// decimal points is an error rather than 123456.
//
// # Times
//
// The rendered occurred_at is trimmed and must be one of
//
//	2006-01-02T15:04:05Z07:00   RFC 3339 with an offset or Z (fractional seconds allowed)
//	2006-01-02T15:04:05         a local date-time in timezone
//	2006-01-02                  a local date in timezone: the first instant of that day
//
// or, when occurred_at_format is set, match that Go time layout instead
// (a layout without a UTC offset is read in timezone, and then timezone is
// required; zone abbreviations such as MST are refused as ambiguous). The result is always written as RFC 3339 in UTC, e.g.
// "2026-10-31T17:00:00Z" for 18:00 in Europe/Berlin after the switch to
// winter time. Local times are converted with the zone's daylight saving
// rules for that date. A local time that the clocks skip (spring forward)
// or show twice (fall back) is a row error, since either answer could put
// the event into the wrong reporting period; give such times an explicit
// offset. A time without an offset when the mapping has no timezone is a row
// error too: guessing UTC would shift business dates. Zone names must come
// from the IANA database ("Europe/Frankfurt" is not one; Frankfurt is in
// "Europe/Berlin").
//
// # Output and errors
//
// Each record becomes one compact JSON envelope with the keys id, source,
// type, schema_version, subject, occurred_at and data, in that order. No
// value ever passes through a float64.
//
// ParseMapping reports every problem of a mapping at once, each prefixed
// with the key it concerns ("mapping: data.outstanding: unknown type
// \"money\""). NewReader fails if the header lacks columns the mapping refers
// to, naming all of them. Reader.Next returns a problem with one record in
// Row.Err, naming the line, the field and the columns
// ("line 7: data.outstanding (column \"outstanding\"): invalid decimal ...")
// and carries on with the next record; its error result is reserved for
// failures that stop reading: I/O errors and broken CSV syntax.
package csvmap
