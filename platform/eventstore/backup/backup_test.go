package backup_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ledgerline/ledgerline/platform/eventstore/backup"
)

func sample(t *testing.T, n uint64) ([]byte, []backup.Message) {
	t.Helper()
	var buf bytes.Buffer
	h := backup.Header{Stream: "EVENTS", FirstSeq: 1, LastSeq: n, Messages: n, CreatedAt: time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC)}
	w, err := backup.NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []backup.Message
	for i := uint64(1); i <= n; i++ {
		m := backup.Message{Seq: i, Time: time.Date(2026, 11, 1, 0, 0, 0, int(i)*1001, time.UTC), Subject: "events.loan-balance.19",
			Headers: map[string][]string{"Nats-Msg-Id": {"ev-" + strings.Repeat("x", int(i))}, "Ledgerline-Sent-By": {"key:a#1"}},
			Data:    []byte(`{"id":"ev",  "amount":"1.50", "note":"<&>"}` + "\n\x00")}
		if i == 3 {
			m.Data = []byte("\xff\xfe not UTF-8")
		}
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), msgs
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func regzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// TestRoundTrip writes messages and reads back every field exactly.
func TestRoundTrip(t *testing.T) {
	file, msgs := sample(t, 5)
	r, err := backup.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Stream != "EVENTS" || r.Header.FirstSeq != 1 || r.Header.LastSeq != 5 || r.Header.Messages != 5 || !r.Header.Contiguous() {
		t.Fatalf("header %+v", r.Header)
	}
	for _, want := range msgs {
		got, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != want.Seq || !got.Time.Equal(want.Time) || got.Subject != want.Subject || !bytes.Equal(got.Data, want.Data) ||
			len(got.Headers) != 2 || got.Headers["Nats-Msg-Id"][0] != want.Headers["Nats-Msg-Id"][0] {
			t.Fatalf("read %+v, wrote %+v", got, want)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
	if tr, ok := r.Trailer(); !ok || tr.Messages != 5 || len(tr.SHA256) != 64 {
		t.Fatalf("trailer %+v %v", tr, ok)
	}
	// The content is NDJSON a person can read.
	lines := strings.Split(strings.TrimSpace(string(gunzip(t, file))), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], `{"record":"header","format":"ledgerline-stream-backup","version":1,"stream":"EVENTS"`) ||
		!strings.HasPrefix(lines[1], `{"record":"message","seq":1,`) || !strings.Contains(lines[1], `"data":"{\"id\":\"ev\",  \"amount\":\"1.50\", \"note\":\"<&>\"}\n\u0000"}`) ||
		!strings.Contains(lines[3], `"data_base64":"//4gbm90IFVURi04"`) || !strings.HasPrefix(lines[6], `{"record":"trailer","last_seq":5,"messages":5,"sha256":"`) {
		t.Fatalf("content:\n%s", strings.Join(lines, "\n"))
	}
}

// TestDamageIsRefused: a changed byte (under a valid gzip layer or in the
// compressed file), a cut-off file and a missing message are all ErrCorrupt.
func TestDamageIsRefused(t *testing.T) {
	file, _ := sample(t, 50)
	plain := gunzip(t, file)
	edited := bytes.Replace(plain, []byte(`"seq":17,`), []byte(`"seq":17, `), 1) // still valid JSON, same message
	dataByte := bytes.Clone(plain)
	i := bytes.Index(dataByte, []byte(`"data":"`)) + len(`"data":"`)
	dataByte[i] ^= 'e' ^ 'f' // base64 of the data: one bit of one event changes
	lines := bytes.SplitAfter(plain, []byte("\n"))
	dropped := bytes.Join(append(append([][]byte{}, lines[:10]...), lines[11:]...), nil)
	flipped := bytes.Clone(file)
	flipped[len(flipped)/2] ^= 0x01

	for name, b := range map[string][]byte{
		"a byte flipped in the file":             flipped,
		"whitespace added to a line":             regzip(t, edited),
		"a bit of an event's data changed":       regzip(t, dataByte),
		"a message dropped":                      regzip(t, dropped),
		"cut off before the trailer":             regzip(t, plain[:len(plain)-200]),
		"cut off after the trailer's first half": file[:len(file)-10],
	} {
		_, _, err := backup.Verify(bytes.NewReader(b), nil)
		if !errors.Is(err, backup.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	_, _, err := backup.Verify(bytes.NewReader(regzip(t, dataByte)), nil)
	if err == nil || !strings.Contains(err.Error(), "SHA-256 checksum mismatch") {
		t.Fatalf("a changed event: %v, want the checksum mismatch named", err)
	}
	if _, tr, err := backup.Verify(bytes.NewReader(file), nil); err != nil || tr.Messages != 50 {
		t.Fatalf("the intact file: %v %+v", err, tr)
	}
}

// TestWriterKeepsItsHeader refuses messages out of order, beyond the header's
// last seq, or fewer than announced.
func TestWriterKeepsItsHeader(t *testing.T) {
	w, err := backup.NewWriter(io.Discard, backup.Header{Stream: "EVENTS", FirstSeq: 1, LastSeq: 3, Messages: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(backup.Message{Seq: 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(backup.Message{Seq: 2}); err == nil {
		t.Fatal("a repeated seq was written")
	}
	if err := w.Write(backup.Message{Seq: 4}); err == nil {
		t.Fatal("a seq after the header's last seq was written")
	}
	if _, err := w.Close(); err == nil {
		t.Fatal("closed with 1 of 3 messages")
	}
	if (backup.Header{FirstSeq: 1, LastSeq: 3, Messages: 2}).Contiguous() || (backup.Header{FirstSeq: 2, LastSeq: 3, Messages: 2}).Contiguous() {
		t.Fatal("a backup with a gap counted as contiguous")
	}
}
