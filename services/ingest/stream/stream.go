// Package stream is the ingest service's JetStream adapter: it publishes events
// with their id as the JetStream message id and reads stored events back.
package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/envelope"
)

// Msg is one event to store.
type Msg struct {
	Subject string
	ID      string
	Data    []byte
	SentBy  string // the API key that sent it (envelope.HeaderSentBy)
}

// Outcome is what JetStream answered for one Msg.
type Outcome struct {
	Seq       uint64
	Duplicate bool // JetStream already held this id (inside its duplicate window)
	Err       error
}

// Publisher stores events in the stream.
type Publisher struct {
	js     jetstream.JetStream
	stream string
}

// NewPublisher publishes through js to the named stream.
func NewPublisher(js jetstream.JetStream, stream string) *Publisher {
	return &Publisher{js: js, stream: stream}
}

// Publish sends msgs asynchronously, in order, and waits for every acknowledgement
// until ctx ends. outcomes[i] belongs to msgs[i].
func (p *Publisher) Publish(ctx context.Context, msgs []Msg) []Outcome {
	out := make([]Outcome, len(msgs))
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		msg := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
		if m.SentBy != "" {
			msg.Header[envelope.HeaderSentBy] = []string{m.SentBy}
		}
		f, err := p.js.PublishMsgAsync(msg,
			jetstream.WithMsgID(m.ID), jetstream.WithExpectStream(p.stream))
		if err != nil {
			out[i].Err = fmt.Errorf("publish %s: %w", m.ID, err)
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			out[i] = Outcome{Seq: ack.Sequence, Duplicate: ack.Duplicate}
		case err := <-f.Err():
			out[i].Err = fmt.Errorf("store %s: %w", msgs[i].ID, err)
		case <-ctx.Done():
			out[i].Err = fmt.Errorf("store %s: no acknowledgement from JetStream: %w", msgs[i].ID, ctx.Err())
		}
	}
	return out
}

// Stored is one message read back from the stream.
type Stored struct {
	Seq        uint64
	Subject    string
	RecordedAt time.Time
	SentBy     string
	Data       []byte
}

// ErrNoMessage means the stream holds no message at that sequence.
var ErrNoMessage = errors.New("no message at that sequence")

// Get reads the message at seq.
func Get(ctx context.Context, st jetstream.Stream, seq uint64) (Stored, error) {
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Stored{}, fmt.Errorf("seq %d: %w", seq, ErrNoMessage)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("read seq %d: %w", seq, err)
	}
	return Stored{Seq: m.Sequence, Subject: m.Subject, RecordedAt: envelope.RecordedAt(m.Header.Get(envelope.HeaderRecordedAt), m.Time), SentBy: m.Header.Get(envelope.HeaderSentBy), Data: m.Data}, nil
}
