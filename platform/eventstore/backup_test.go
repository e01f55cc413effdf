package eventstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/eventstore"
	"github.com/ledgerline/ledgerline/platform/eventstore/backup"
	"github.com/ledgerline/ledgerline/platform/natstest"
)

func openStore(t *testing.T, cfg config.Config) *eventstore.Store {
	t.Helper()
	es, err := eventstore.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(es.Close)
	return es
}

func external(t *testing.T) *eventstore.Store {
	t.Helper()
	cfg := config.Default()
	cfg.NATSURL = natstest.Start(t).URL()
	return openStore(t, cfg)
}

// TestBackupRestoreKeepsSeqsHeadersAndRecordedAt backs a stream up, restores it
// into a new server and compares every message; a second restore, a backup of
// another stream name and a backup with a gap are refused before anything is
// written.
func TestBackupRestoreKeepsSeqsHeadersAndRecordedAt(t *testing.T) {
	ctx := context.Background()
	src := external(t)
	for i := 0; i < 2500; i++ {
		msg := &nats.Msg{Subject: envelope.StreamSubject("loan.balance", fmt.Sprintf("LN-%d", i%7)), Header: nats.Header{},
			Data: []byte(fmt.Sprintf(`{"id":"ev-%d"}`, i))}
		msg.Header.Set(envelope.HeaderSentBy, "key:test#1")
		if _, err := src.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("ev-%d", i)), jetstream.WithExpectStream("EVENTS")); err != nil {
			t.Fatal(err)
		}
	}
	var file bytes.Buffer
	var seen uint64
	h, tr, err := src.Backup(ctx, &file, func(done, total uint64) { seen = done })
	if err != nil {
		t.Fatal(err)
	}
	if h.Messages != 2500 || h.FirstSeq != 1 || h.LastSeq != 2500 || tr.Messages != 2500 || seen != 2500 {
		t.Fatalf("backup header %+v trailer %+v progress %d", h, tr, seen)
	}

	dst := external(t)
	r, err := backup.NewReader(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 1234, 2500} {
		a, err := src.Stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dst.Stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		recorded := envelope.RecordedAt(b.Header.Get(envelope.HeaderRecordedAt), b.Time)
		if a.Subject != b.Subject || !bytes.Equal(a.Data, b.Data) || b.Header.Get("Nats-Msg-Id") != a.Header.Get("Nats-Msg-Id") ||
			b.Header.Get(envelope.HeaderSentBy) != "key:test#1" || b.Header.Get("Nats-Expected-Stream") != "EVENTS" ||
			!recorded.Equal(a.Time) || b.Time.Equal(a.Time) {
			t.Fatalf("seq %d: stored %s %q %v at %s, restored %s %q %v at %s (recorded at %s)",
				seq, a.Subject, a.Data, a.Header, a.Time, b.Subject, b.Data, b.Header, b.Time, recorded)
		}
	}

	// Into the now full stream: refused.
	r, _ = backup.NewReader(bytes.NewReader(file.Bytes()))
	if err := dst.Restore(ctx, r, nil); !errors.Is(err, eventstore.ErrNotEmpty) {
		t.Fatalf("restore into a full stream: %v, want ErrNotEmpty", err)
	}

	// A backup with a hole in its seqs, or of another stream: refused, nothing written.
	empty := external(t)
	var gapped bytes.Buffer
	w, _ := backup.NewWriter(&gapped, backup.Header{Stream: "EVENTS", FirstSeq: 1, LastSeq: 3, Messages: 2, CreatedAt: time.Now()})
	_ = w.Write(backup.Message{Seq: 1, Subject: "events.x.00", Data: []byte("a"), Time: time.Now()})
	_ = w.Write(backup.Message{Seq: 3, Subject: "events.x.00", Data: []byte("b"), Time: time.Now()})
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, _ = backup.NewReader(bytes.NewReader(gapped.Bytes()))
	if err := empty.Restore(ctx, r, nil); err == nil || !strings.Contains(err.Error(), "not every seq from 1") {
		t.Fatalf("restore of a backup with a gap: %v", err)
	}
	cfg := config.Default()
	cfg.NATSURL = natstest.Start(t).URL()
	cfg.Stream.Name = "OTHER"
	other := openStore(t, cfg)
	r, _ = backup.NewReader(bytes.NewReader(file.Bytes()))
	if err := other.Restore(ctx, r, nil); err == nil || !strings.Contains(err.Error(), "the backup is of stream EVENTS") {
		t.Fatalf("restore into another stream name: %v", err)
	}
	for _, es := range []*eventstore.Store{empty, other} {
		if last, err := es.LastSeq(ctx); err != nil || last != 0 {
			t.Fatalf("a refused restore wrote up to seq %d (%v)", last, err)
		}
	}
}

// TestASecondProcessUsesTheRunningEmbeddedServer opens the embedded store twice:
// the second opening does not start another nats-server on the same directory
// (which would corrupt it) but connects to the first one's.
func TestASecondProcessUsesTheRunningEmbeddedServer(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	first := openStore(t, cfg)
	if first.ClientURL() == "" || !strings.Contains(first.Origin, "started by this process") {
		t.Fatalf("first: url %q origin %q", first.ClientURL(), first.Origin)
	}
	second := openStore(t, cfg)
	if second.ClientURL() != "" || !strings.Contains(second.Origin, fmt.Sprintf("of process %d", os.Getpid())) {
		t.Fatalf("second: url %q origin %q, want the first one's server", second.ClientURL(), second.Origin)
	}
	ack, err := second.JS.Publish(ctx, envelope.StreamSubject("loan.balance", "LN-1"), []byte(`{"id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if last, err := first.LastSeq(ctx); err != nil || last != ack.Sequence {
		t.Fatalf("the first store sees last seq %d (%v), want %d", last, err, ack.Sequence)
	}
	// Once the first is closed, the store is free again.
	second.Close()
	first.Close()
	third, err := eventstore.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), eventstore.Private())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if last, err := third.LastSeq(ctx); err != nil || last != ack.Sequence || third.ClientURL() == "" {
		t.Fatalf("reopened: last seq %d (%v), url %q", last, err, third.ClientURL())
	}
	// A private server (a stream command working offline) is not shared: it
	// ends with its command.
	if es, err := eventstore.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); !errors.Is(err, eventstore.ErrStoreInUse) ||
		!strings.Contains(err.Error(), "keeps its server to itself") {
		if es != nil {
			es.Close()
		}
		t.Fatalf("opening a store another process keeps to itself: %v, want ErrStoreInUse", err)
	}
}
