package eventstore_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/config"
	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/eventstore"
	"github.com/ledgerline/ledgerline/platform/natstest"
)

// TestTheStreamKeepsEverythingForEver checks the stream's settings on a real
// server, and that JetStream itself refuses to delete an event or purge the stream.
func TestTheStreamKeepsEverythingForEver(t *testing.T) {
	srv := natstest.Start(t)
	cfg := config.Default()
	cfg.NATSURL = srv.URL()
	ctx := context.Background()
	es, err := eventstore.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	info, err := es.Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Storage != jetstream.FileStorage || c.MaxAge != 0 || c.MaxMsgs != -1 || c.MaxBytes != -1 ||
		!c.DenyDelete || !c.DenyPurge || c.Replicas != 1 || c.Duplicates != cfg.Stream.DuplicateWindow ||
		len(c.Subjects) != 1 || c.Subjects[0] != envelope.StreamSubjects {
		t.Fatalf("stream config %+v", c)
	}
	ack, err := es.JS.Publish(ctx, envelope.StreamSubject("loan.balance", "LN-1"), []byte(`{"id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := es.Stream.DeleteMsg(ctx, ack.Sequence); err == nil {
		t.Fatal("an event could be deleted")
	}
	if err := es.Stream.Purge(ctx); err == nil {
		t.Fatal("the stream could be purged")
	}
	// Opening again (a restart) keeps the stream and its events.
	es.Close()
	if es, err = eventstore.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if last, err := es.LastSeq(ctx); err != nil || last != ack.Sequence {
		t.Fatalf("after reopening: last seq %d (%v), want %d", last, err, ack.Sequence)
	}
}
