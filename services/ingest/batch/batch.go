// Package batch splits a request body into raw events: a JSON array of envelopes,
// or NDJSON (one envelope per line). It does not parse events; it only finds
// their boundaries and enforces the size limits.
package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits bound one body.
type Limits struct {
	MaxEvents     int
	MaxEventBytes int
}

// Item is one raw event and its position: Index counts events from 0; Line is the
// 1-based line it starts on.
type Item struct {
	Index int
	Line  int
	Raw   []byte
	// TooLarge is set when the event exceeds MaxEventBytes (Raw is then truncated).
	TooLarge bool
	Size     int
}

// Errors of a whole body.
var (
	ErrEmpty     = errors.New("the body holds no events: send a JSON array of events or NDJSON (one event per line)")
	ErrTooMany   = errors.New("too many events in one request")
	ErrMalformed = errors.New("malformed JSON")
)

// keepBytes is how much of an oversized event is kept for the quarantine.
const keepBytes = 4096

// Split finds the events in body. A JSON array that is not well-formed is an error
// for the whole body (its remaining element boundaries cannot be trusted); in NDJSON
// a malformed line is just one bad event, left for the validator to describe.
func Split(body []byte, lim Limits) ([]Item, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(bytes.TrimSpace(trimmed)) == 0 {
		return nil, ErrEmpty
	}
	var items []Item
	var err error
	switch {
	case trimmed[0] == '[':
		items, err = splitArray(body, lim)
	case json.Valid(trimmed):
		// One event, perhaps pretty-printed over several lines (not NDJSON).
		raw := bytes.TrimSpace(trimmed)
		items = []Item{item(0, 1+bytes.Count(body[:len(body)-len(trimmed)], []byte("\n")), raw, lim)}
	default:
		items, err = splitLines(body, lim)
	}
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, ErrEmpty
	}
	return items, nil
}

func splitArray(body []byte, lim Limits) ([]Item, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, malformed(body, dec.InputOffset(), err)
	}
	var items []Item
	for dec.More() {
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			// The decoder's offsets are not positions in body; re-scan the element
			// alone to point at the offending byte.
			for start < int64(len(body)) && bytes.IndexByte([]byte(" \t\r\n,"), body[start]) >= 0 {
				start++
			}
			var se *json.SyntaxError
			if errors.As(json.Unmarshal(body[start:], new(json.RawMessage)), &se) {
				return nil, malformed(body, start+se.Offset, err)
			}
			return nil, malformed(body, start, err)
		}
		if len(items) >= lim.MaxEvents {
			return nil, fmt.Errorf("%w: more than %d; split the batch", ErrTooMany, lim.MaxEvents)
		}
		for start < int64(len(body)) && bytes.IndexByte([]byte(" \t\r\n,"), body[start]) >= 0 {
			start++
		}
		line := 1 + bytes.Count(body[:start], []byte("\n"))
		items = append(items, item(len(items), line, raw, lim))
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed(body, dec.InputOffset(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed(body, dec.InputOffset(), errors.New("unexpected data after the closing ]"))
	}
	return items, nil
}

func splitLines(body []byte, lim Limits) ([]Item, error) {
	var items []Item
	line := 0
	for len(body) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		if len(items) >= lim.MaxEvents {
			return nil, fmt.Errorf("%w: more than %d; split the batch", ErrTooMany, lim.MaxEvents)
		}
		items = append(items, item(len(items), line, l, lim))
	}
	return items, nil
}

func item(index, line int, raw []byte, lim Limits) Item {
	it := Item{Index: index, Line: line, Raw: raw, Size: len(raw)}
	if len(raw) > lim.MaxEventBytes {
		it.TooLarge = true
		it.Raw = raw[:min(len(raw), keepBytes)]
	}
	return it
}

func malformed(body []byte, off int64, err error) error {
	line, col := 1, 1
	if off > int64(len(body)) {
		off = int64(len(body))
	}
	for _, c := range body[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	msg := err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		msg = "unexpected end of input: the body is truncated"
	}
	return fmt.Errorf("%w: %s near line %d, column %d (byte %d); nothing in this request was accepted", ErrMalformed, msg, line, col, off)
}
