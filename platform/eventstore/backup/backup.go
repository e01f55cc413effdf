// Package backup is the file format of a backup of the event stream, written by
// `ledgerline stream backup` and read by `ledgerline stream restore`: a
// self-describing, checksummed copy of every message, independent of the
// nats-server version and of how its store is laid out on disk.
//
// # Format (version 1)
//
// A backup file is one gzip stream holding UTF-8 JSON lines (NDJSON), so
// `zcat FILE | head` shows what it holds. Every line is an object whose first
// key, "record", says what it is:
//
//  1. one header: {"record":"header","format":"ledgerline-stream-backup",
//     "version":1,"stream":"EVENTS","first_seq":1,"last_seq":N,"messages":N,
//     "created_at":"<RFC 3339>"}: the stream's state when the backup started;
//     the backup holds every message up to last_seq and no later one;
//  2. one line per message, in seq order: {"record":"message","seq":1,
//     "time":"<RFC 3339, ns>","subject":"events.loan-balance.19",
//     "headers":{"Nats-Msg-Id":["..."]},"data":"{\"id\":...}"}, where time is
//     the stream timestamp (recorded_at) and data the stored bytes exactly, as a
//     JSON string (data_base64 instead, in base64, for bytes that are not UTF-8);
//  3. one trailer: {"record":"trailer","messages":N,"last_seq":N,
//     "sha256":"<hex>"}: the SHA-256 of every byte before the trailer line
//     (header and message lines, newlines included, uncompressed).
//
// A reader refuses a file whose checksum, counts or seq order do not match its
// header and trailer, or that ends before its trailer (ErrCorrupt).
package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"time"
	"unicode/utf8"
)

// Format and Version identify the file format in its header.
const (
	Format  = "ledgerline-stream-backup"
	Version = 1
)

// ErrCorrupt means a backup file is damaged or incomplete: its checksum, counts
// or order do not match, or it cannot be decompressed.
var ErrCorrupt = errors.New("backup is corrupt")

// Header describes a backup: the stream's state when it was taken.
type Header struct {
	Stream    string
	FirstSeq  uint64
	LastSeq   uint64
	Messages  uint64
	CreatedAt time.Time
}

// Contiguous reports whether the backup holds every seq from 1 to LastSeq, as a
// stream that never lost a message does (an empty backup is contiguous).
func (h Header) Contiguous() bool {
	return h.Messages == 0 || h.FirstSeq == 1 && h.LastSeq == h.Messages
}

// Message is one stored message.
type Message struct {
	Seq     uint64
	Time    time.Time // the stream timestamp: when the platform recorded it
	Subject string
	Headers map[string][]string
	Data    []byte
}

// Trailer closes a backup.
type Trailer struct {
	Messages uint64
	LastSeq  uint64
	SHA256   string
}

// line is every record's fields; "record" says which are used.
type line struct {
	Record string `json:"record"`
	// header
	Format   string  `json:"format,omitempty"`
	Version  int     `json:"version,omitempty"`
	Stream   string  `json:"stream,omitempty"`
	FirstSeq *uint64 `json:"first_seq,omitempty"`
	// header and trailer
	LastSeq  *uint64 `json:"last_seq,omitempty"`
	Messages *uint64 `json:"messages,omitempty"`
	// header
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// message
	Seq     uint64              `json:"seq,omitempty"`
	Time    *time.Time          `json:"time,omitempty"`
	Subject string              `json:"subject,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	Data    *string             `json:"data,omitempty"`        // UTF-8 data, as a JSON string
	Data64  []byte              `json:"data_base64,omitempty"` // any other data
	// trailer
	SHA256 string `json:"sha256,omitempty"`
}

// Writer writes a backup.
type Writer struct {
	gz     *gzip.Writer
	sum    hash.Hash
	header Header
	n      uint64
	last   uint64
	buf    bytes.Buffer
}

// NewWriter starts a backup with header h on w. Close must be called to write
// the trailer; it does not close w.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	bw := &Writer{gz: gz, sum: sha256.New(), header: h}
	created := h.CreatedAt.UTC()
	return bw, bw.line(line{Record: "header", Format: Format, Version: Version, Stream: h.Stream,
		FirstSeq: &h.FirstSeq, LastSeq: &h.LastSeq, Messages: &h.Messages, CreatedAt: &created}, true)
}

// Write appends m; messages must come in seq order, up to the header's LastSeq.
func (w *Writer) Write(m Message) error {
	if m.Seq <= w.last || m.Seq > w.header.LastSeq || w.n == w.header.Messages {
		return fmt.Errorf("backup: message seq %d after seq %d (%d of %d messages, last seq %d)",
			m.Seq, w.last, w.n, w.header.Messages, w.header.LastSeq)
	}
	t := m.Time.UTC()
	l := line{Record: "message", Seq: m.Seq, Time: &t, Subject: m.Subject, Headers: m.Headers}
	if utf8.Valid(m.Data) {
		// A JSON string holds valid UTF-8 exactly, and an event stays readable.
		s := string(m.Data)
		l.Data = &s
	} else {
		l.Data64 = m.Data
	}
	if err := w.line(l, true); err != nil {
		return err
	}
	w.n, w.last = w.n+1, m.Seq
	return nil
}

// Close writes the trailer and flushes; it fails unless every message the
// header announced was written.
func (w *Writer) Close() (Trailer, error) {
	if w.n != w.header.Messages {
		return Trailer{}, fmt.Errorf("backup: %d messages written, the header announced %d", w.n, w.header.Messages)
	}
	t := Trailer{Messages: w.n, LastSeq: w.header.LastSeq, SHA256: hex.EncodeToString(w.sum.Sum(nil))}
	if err := w.line(line{Record: "trailer", Messages: &t.Messages, LastSeq: &t.LastSeq, SHA256: t.SHA256}, false); err != nil {
		return Trailer{}, err
	}
	return t, w.gz.Close()
}

func (w *Writer) line(l line, hashed bool) error {
	w.buf.Reset()
	enc := json.NewEncoder(&w.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil { // one line, with its newline
		return err
	}
	if hashed {
		w.sum.Write(w.buf.Bytes())
	}
	_, err := w.gz.Write(w.buf.Bytes())
	return err
}

// Reader reads a backup, checking it as it goes.
type Reader struct {
	Header Header

	br      *bufio.Reader
	gz      *gzip.Reader
	sum     hash.Hash
	n       uint64
	last    uint64
	trailer *Trailer
}

// NewReader reads the header of the backup in r.
func NewReader(r io.Reader) (*Reader, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: not a gzip file: %v", ErrCorrupt, err)
	}
	br := &Reader{gz: gz, br: bufio.NewReaderSize(gz, 1<<20), sum: sha256.New()}
	l, raw, err := br.next()
	if err != nil {
		return nil, err
	}
	if l.Record != "header" || l.Format != Format {
		return nil, fmt.Errorf("%w: the first line is not a %s header", ErrCorrupt, Format)
	}
	if l.Version != Version {
		return nil, fmt.Errorf("backup format version %d; this ledgerline reads version %d", l.Version, Version)
	}
	if l.FirstSeq == nil || l.LastSeq == nil || l.Messages == nil || l.CreatedAt == nil || l.Stream == "" {
		return nil, fmt.Errorf("%w: the header lacks stream, first_seq, last_seq, messages or created_at", ErrCorrupt)
	}
	br.sum.Write(raw)
	br.Header = Header{Stream: l.Stream, FirstSeq: *l.FirstSeq, LastSeq: *l.LastSeq, Messages: *l.Messages, CreatedAt: *l.CreatedAt}
	return br, nil
}

// next reads one line.
func (r *Reader) next() (line, []byte, error) {
	raw, err := r.br.ReadBytes('\n')
	if errors.Is(err, io.EOF) {
		if len(raw) == 0 {
			return line{}, nil, fmt.Errorf("%w: it ends without its trailer (truncated?)", ErrCorrupt)
		}
		return line{}, nil, fmt.Errorf("%w: its last line is cut off (truncated?)", ErrCorrupt)
	}
	if err != nil {
		return line{}, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var l line
	if err := json.Unmarshal(raw, &l); err != nil {
		return line{}, nil, fmt.Errorf("%w: line %d: %v", ErrCorrupt, r.n+2, err)
	}
	return l, raw, nil
}

// Next returns the next message, or io.EOF after the last one once the trailer
// and the checksum have been verified.
func (r *Reader) Next() (Message, error) {
	if r.trailer != nil {
		return Message{}, io.EOF
	}
	l, raw, err := r.next()
	if err != nil {
		return Message{}, err
	}
	switch l.Record {
	case "message":
		if l.Seq <= r.last || l.Seq > r.Header.LastSeq || r.n == 0 && l.Seq != r.Header.FirstSeq || r.n == r.Header.Messages || l.Time == nil {
			return Message{}, fmt.Errorf("%w: message seq %d out of place (after seq %d, %d of %d messages, seq %d to %d)",
				ErrCorrupt, l.Seq, r.last, r.n, r.Header.Messages, r.Header.FirstSeq, r.Header.LastSeq)
		}
		r.sum.Write(raw)
		r.n, r.last = r.n+1, l.Seq
		data := l.Data64
		if l.Data != nil {
			data = []byte(*l.Data)
		}
		return Message{Seq: l.Seq, Time: *l.Time, Subject: l.Subject, Headers: l.Headers, Data: data}, nil
	case "trailer":
		if l.Messages == nil || l.LastSeq == nil || *l.Messages != r.Header.Messages || *l.LastSeq != r.Header.LastSeq ||
			r.n != r.Header.Messages || r.n > 0 && r.last != r.Header.LastSeq {
			return Message{}, fmt.Errorf("%w: %d messages up to seq %d read, the header announced %d up to seq %d",
				ErrCorrupt, r.n, r.last, r.Header.Messages, r.Header.LastSeq)
		}
		if got := hex.EncodeToString(r.sum.Sum(nil)); got != l.SHA256 {
			return Message{}, fmt.Errorf("%w: SHA-256 checksum mismatch: the trailer records %s, the content hashes to %s", ErrCorrupt, l.SHA256, got)
		}
		if extra, _ := r.br.Peek(1); len(extra) > 0 {
			return Message{}, fmt.Errorf("%w: data after the trailer", ErrCorrupt)
		}
		// Reading to the end makes gzip check its own CRC and length.
		if _, err := io.Copy(io.Discard, r.br); err != nil {
			return Message{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		r.trailer = &Trailer{Messages: *l.Messages, LastSeq: *l.LastSeq, SHA256: l.SHA256}
		return Message{}, io.EOF
	default:
		return Message{}, fmt.Errorf("%w: line %d is a %q record", ErrCorrupt, r.n+2, l.Record)
	}
}

// Trailer is the verified trailer, once Next has returned io.EOF.
func (r *Reader) Trailer() (Trailer, bool) {
	if r.trailer == nil {
		return Trailer{}, false
	}
	return *r.trailer, true
}

// Verify reads a whole backup and checks it, calling progress (may be nil)
// with the messages read so far.
func Verify(r io.Reader, progress func(messages uint64)) (Header, Trailer, error) {
	br, err := NewReader(r)
	if err != nil {
		return Header{}, Trailer{}, err
	}
	for {
		_, err := br.Next()
		if errors.Is(err, io.EOF) {
			t, _ := br.Trailer()
			return br.Header, t, nil
		}
		if err != nil {
			return br.Header, Trailer{}, err
		}
		if progress != nil && br.n%1000 == 0 {
			progress(br.n)
		}
	}
}

// Digest hashes messages by what a restore must reproduce exactly: seq, subject,
// headers (in key order) and data, not the timestamp, which JetStream sets.
type Digest struct {
	h   hash.Hash
	buf []byte
}

// NewDigest returns an empty digest.
func NewDigest() *Digest { return &Digest{h: sha256.New()} }

// Add hashes one message.
func (d *Digest) Add(seq uint64, subject string, headers map[string][]string, data []byte) {
	b := binary.BigEndian.AppendUint64(d.buf[:0], seq)
	field := func(s []byte) { b = append(binary.BigEndian.AppendUint64(b, uint64(len(s))), s...) }
	field([]byte(subject))
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.BigEndian.AppendUint64(b, uint64(len(keys)))
	for _, k := range keys {
		field([]byte(k))
		b = binary.BigEndian.AppendUint64(b, uint64(len(headers[k])))
		for _, v := range headers[k] {
			field([]byte(v))
		}
	}
	field(data)
	d.buf = b
	d.h.Write(b)
}

// Sum is the digest of every message added, in order.
func (d *Digest) Sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
