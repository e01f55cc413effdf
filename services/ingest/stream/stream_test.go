package stream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/natstest"
	"github.com/ledgerline/ledgerline/services/ingest/stream"
)

// setup starts a JetStream server with the stream EVENTS and connects to it.
func setup(t *testing.T) (*natstest.Server, *nats.Conn, jetstream.Stream) {
	t.Helper()
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{envelope.StreamSubjects},
		Storage: jetstream.FileStorage, Duplicates: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return srv, nc, st
}

func msgs(prefix string, n int) []stream.Msg {
	out := make([]stream.Msg, n)
	for i := range out {
		id := fmt.Sprintf("%s-%d", prefix, i)
		out[i] = stream.Msg{Subject: envelope.StreamSubject("loan.balance", "LN-1"), ID: id, Data: []byte(`{"id":"` + id + `"}`), SentBy: "source-key"}
	}
	return out
}

// TestPublish: every message is stored in order with its id, header and seq;
// sent again they are answered as duplicates with their first seq; concurrent
// batches each get their own acknowledgements.
func TestPublish(t *testing.T) {
	_, nc, st := setup(t)
	ctx := context.Background()
	p := stream.NewPublisher(nc, "EVENTS")
	first := p.Publish(ctx, msgs("a", 300))
	for i, o := range first {
		if o.Err != nil || o.Duplicate || o.Seq != uint64(i+1) {
			t.Fatalf("message %d: %+v, want seq %d", i, o, i+1)
		}
	}
	got, err := stream.Get(ctx, st, 42)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != `{"id":"a-41"}` || got.SentBy != "source-key" {
		t.Fatalf("seq 42 holds %s sent by %q", got.Data, got.SentBy)
	}
	again := p.Publish(ctx, msgs("a", 300)[100:110])
	for i, o := range again {
		if o.Err != nil || !o.Duplicate || o.Seq != uint64(101+i) {
			t.Fatalf("resent message %d: %+v, want a duplicate of seq %d", i, o, 101+i)
		}
	}
	var wg sync.WaitGroup
	results := make([][]stream.Outcome, 8)
	for b := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[b] = p.Publish(ctx, msgs(fmt.Sprintf("c%d", b), 200))
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for b, outs := range results {
		last := uint64(0)
		for i, o := range outs {
			if o.Err != nil || o.Duplicate || o.Seq <= last || seen[o.Seq] {
				t.Fatalf("batch %d message %d: %+v (previous seq %d)", b, i, o, last)
			}
			last, seen[o.Seq] = o.Seq, true
		}
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 300+8*200 {
		t.Fatalf("stream holds %v messages (%v), want %d", info.State.Msgs, err, 300+8*200)
	}
}

// TestPublishRefused: a stream that is not the expected one, and no stream at
// all, give each message an error that says so; nothing is taken as stored.
func TestPublishRefused(t *testing.T) {
	_, nc, _ := setup(t)
	ctx := context.Background()
	wrong := stream.NewPublisher(nc, "OTHER")
	for i, o := range wrong.Publish(ctx, msgs("w", 3)) {
		if o.Err == nil || o.Seq != 0 || !strings.Contains(o.Err.Error(), "expected stream does not match") {
			t.Fatalf("message %d to the wrong stream: %+v", i, o)
		}
	}
	none := stream.NewPublisher(nc, "EVENTS")
	m := msgs("n", 2)
	for i := range m {
		m[i].Subject = "nowhere.x"
	}
	for i, o := range none.Publish(ctx, m) {
		if !errors.Is(o.Err, jetstream.ErrNoStreamResponse) {
			t.Fatalf("message %d to no stream: %+v", i, o)
		}
	}
}

// TestPublishTimeout: with the server gone, Publish returns when ctx ends, each
// message failed with "no acknowledgement"; once the server is back the same
// publisher stores again.
func TestPublishTimeout(t *testing.T) {
	srv, nc, _ := setup(t)
	p := stream.NewPublisher(nc, "EVENTS")
	if o := p.Publish(context.Background(), msgs("t", 1)); o[0].Err != nil {
		t.Fatal(o[0].Err)
	}
	srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	for i, o := range p.Publish(ctx, msgs("t2", 5)) {
		if o.Err == nil || o.Seq != 0 {
			t.Fatalf("message %d with the server down: %+v", i, o)
		}
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		o := p.Publish(ctx, msgs("t3", 1))
		cancel()
		if o[0].Err == nil {
			if o[0].Seq < 2 {
				t.Fatalf("after the restart: %+v", o[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no publish succeeded within 10 s of the restart: %v", o[0].Err)
		}
	}
}
