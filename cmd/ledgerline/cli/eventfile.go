package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// rawEvent is one event read from a file, with the line it starts on.
type rawEvent struct {
	Where string // "line 12" (NDJSON, CSV) or "event 12" (JSON array)
	Raw   []byte
}

// eventFile streams events from a JSON array or NDJSON file without loading it whole.
type eventFile struct {
	br    *bufio.Reader
	dec   *json.Decoder
	line  int
	array bool
	done  bool
}

func newEventFile(r io.Reader) (*eventFile, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	// Skip a byte order mark and leading space to see whether this is an array.
	for {
		b, err := br.Peek(1)
		if err == io.EOF {
			return &eventFile{br: br, done: true}, nil
		}
		if err != nil {
			return nil, err
		}
		if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
			_, _ = br.Discard(3)
			continue
		}
		if b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n' {
			_, _ = br.Discard(1)
			continue
		}
		f := &eventFile{br: br, array: b[0] == '['}
		if f.array {
			f.dec = json.NewDecoder(br)
			if _, err := f.dec.Token(); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
}

// next returns the next event, or io.EOF.
func (f *eventFile) next() (rawEvent, error) {
	if f.done {
		return rawEvent{}, io.EOF
	}
	if f.array {
		if !f.dec.More() {
			f.done = true
			return rawEvent{}, io.EOF
		}
		f.line++
		var raw json.RawMessage
		if err := f.dec.Decode(&raw); err != nil {
			return rawEvent{}, fmt.Errorf("event %d of the array: %w (fix the file: a JSON array must be well-formed as a whole)", f.line, err)
		}
		return rawEvent{Where: fmt.Sprintf("event %d", f.line), Raw: raw}, nil
	}
	for {
		l, err := f.br.ReadBytes('\n')
		if len(l) == 0 && err != nil {
			f.done = true
			return rawEvent{}, io.EOF
		}
		f.line++
		if t := bytes.TrimSpace(l); len(t) > 0 {
			return rawEvent{Where: fmt.Sprintf("line %d", f.line), Raw: append([]byte(nil), t...)}, nil
		}
		if err != nil {
			f.done = true
			return rawEvent{}, io.EOF
		}
	}
}
