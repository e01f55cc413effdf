// Package envelope is the Ledgerline event envelope and the scheme that maps an
// event onto a JetStream subject.
//
// # Subject scheme
//
// Every event is stored in one stream under
//
//	events.<type>.<bucket>
//
// where <type> is the event type with its dots turned into dashes ("loan.balance"
// → "loan-balance"; types are lower-case letters, digits, "_" and ".", so the
// mapping is one-to-one) and <bucket> is two hex digits, the first byte of the
// SHA-256 of the event's business subject ("00".."ff"). The business subject is never
// put into a NATS subject raw: it may hold dots, spaces, "*", ">" or anything else.
//
// This gives consumers three deterministic cuts without reading payloads: by type
// (events.loan-balance.>), by partition (a worker owning buckets b with b mod N = i
// filters on those events.*.<b> subjects, so all events of one business subject go
// to the same worker), or both. The subject count stays bounded (types × 256), which
// keeps JetStream's per-subject bookkeeping small however many accounts a bank has.
package envelope

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"time"
)

// TypeVoid is the reserved type that cancels the event named by Supersedes.
const TypeVoid = "void"

// SubjectPrefix starts every stream subject; StreamSubjects is the stream's filter.
const (
	SubjectPrefix  = "events."
	StreamSubjects = "events.>"
	// Buckets is the number of partition buckets in the subject scheme.
	Buckets = 256
)

// HeaderSentBy is set on every stored event besides Nats-Msg-Id (the event id): the
// API key that sent it ("key:<name>#<id>"), for audit; the envelope's source field
// is only what the sender says it is.
const HeaderSentBy = "Ledgerline-Sent-By"

// HeaderRecordedAt is set on an event restored from a backup (`ledgerline stream
// restore`): the stream timestamp it had when first recorded, RFC 3339 with
// nanoseconds. JetStream stamps every message it stores with the time it stored
// it and has no way to set another, so a restore keeps the original here.
const HeaderRecordedAt = "Ledgerline-Recorded-At"

// RecordedAt is an event's knowledge time: its HeaderRecordedAt value when it
// has one (a restored event), else stored, the stream timestamp.
func RecordedAt(header string, stored time.Time) time.Time {
	if header != "" {
		if t, err := time.Parse(time.RFC3339Nano, header); err == nil {
			return t
		}
	}
	return stored
}

// Event is a validated envelope.
type Event struct {
	ID            string          `json:"id"`
	Source        string          `json:"source"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version,omitempty"`
	Subject       string          `json:"subject"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Data          json.RawMessage `json:"data,omitempty"`
	Supersedes    string          `json:"supersedes,omitempty"`
}

// Bucket is the partition bucket of a business subject.
func Bucket(subject string) uint8 {
	sum := sha256.Sum256([]byte(subject))
	return sum[0]
}

const hexDigits = "0123456789abcdef"

// StreamSubject is the JetStream subject an event of this type and business
// subject is stored under.
func StreamSubject(eventType, subject string) string {
	b := Bucket(subject)
	var sb strings.Builder
	sb.Grow(len(SubjectPrefix) + len(eventType) + 3)
	sb.WriteString(SubjectPrefix)
	for i := 0; i < len(eventType); i++ {
		if c := eventType[i]; c == '.' {
			sb.WriteByte('-')
		} else {
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('.')
	sb.WriteByte(hexDigits[b>>4])
	sb.WriteByte(hexDigits[b&0x0f])
	return sb.String()
}

// TypeFromSubject recovers the event type from a stream subject.
func TypeFromSubject(streamSubject string) string {
	rest := strings.TrimPrefix(streamSubject, SubjectPrefix)
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		rest = rest[:i]
	}
	return strings.ReplaceAll(rest, "-", ".")
}

// PartitionFilter lists the subjects a worker owning partition i of n consumes:
// the buckets b with b mod n == i, for every type.
func PartitionFilter(i, n int) []string {
	var out []string
	for b := i; b < Buckets; b += n {
		out = append(out, SubjectPrefix+"*."+string([]byte{hexDigits[b>>4], hexDigits[b&0x0f]}))
	}
	return out
}
