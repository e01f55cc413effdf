// Package stream is the ingest service's JetStream adapter: it publishes events
// with their id as the JetStream message id and reads stored events back.
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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

// Publisher stores events in the stream. It speaks JetStream's publish
// protocol itself: each message goes out as a core NATS publish whose reply
// subject names its batch and place, and the acknowledgements arrive on one
// subscription. jetstream.PublishMsgAsync does the same with a future, two
// channels and an encoding/json decode per message, which was a quarter of the
// ingest process's CPU under load; here a batch shares one wait, and an
// acknowledgement of the usual form ({"stream":...,"seq":N}) is read by hand
// (parseAck), anything else by encoding/json.
type Publisher struct {
	nc     *nats.Conn
	stream string
	prefix string // reply subjects are prefix + "<batch>.<index>"

	subOnce sync.Once
	subErr  error

	mu      sync.Mutex
	next    uint64
	waiting map[uint64]*pending
}

// pending is one Publish call waiting for its acknowledgements.
type pending struct {
	out  []Outcome
	got  []bool
	left int
	done chan struct{}
}

// NewPublisher publishes on nc to the named stream.
func NewPublisher(nc *nats.Conn, stream string) *Publisher {
	return &Publisher{nc: nc, stream: stream, prefix: nc.NewRespInbox() + ".", waiting: map[uint64]*pending{}}
}

// subscribe starts receiving acknowledgements, once.
func (p *Publisher) subscribe() error {
	p.subOnce.Do(func() {
		var sub *nats.Subscription
		sub, p.subErr = p.nc.Subscribe(p.prefix+">", p.acknowledged)
		if p.subErr == nil {
			// Never drop an acknowledgement for being slow: that would fail a
			// stored event's request.
			p.subErr = sub.SetPendingLimits(-1, -1)
		}
	})
	return p.subErr
}

// Publish sends msgs, in order, without waiting between them, and waits for
// every acknowledgement until ctx ends. outcomes[i] belongs to msgs[i].
func (p *Publisher) Publish(ctx context.Context, msgs []Msg) []Outcome {
	out := make([]Outcome, len(msgs))
	if len(msgs) == 0 {
		return out
	}
	if err := p.subscribe(); err != nil {
		for i := range out {
			out[i].Err = fmt.Errorf("publish %s: subscribe to acknowledgements: %w", msgs[i].ID, err)
		}
		return out
	}
	w := &pending{out: out, got: make([]bool, len(msgs)), left: len(msgs), done: make(chan struct{})}
	p.mu.Lock()
	p.next++
	id := p.next
	p.waiting[id] = w
	p.mu.Unlock()
	reply := p.prefix + strconv.FormatUint(id, 10) + "."
	for i, m := range msgs {
		h := nats.Header{jetstream.MsgIDHeader: []string{m.ID}, jetstream.ExpectedStreamHeader: []string{p.stream}}
		if m.SentBy != "" {
			h[envelope.HeaderSentBy] = []string{m.SentBy}
		}
		err := p.nc.PublishMsg(&nats.Msg{Subject: m.Subject, Reply: reply + strconv.Itoa(i), Header: h, Data: m.Data})
		if err != nil {
			p.settle(id, i, Outcome{Err: fmt.Errorf("publish %s: %w", m.ID, err)})
		}
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.waiting, id)
		for i := range out {
			if !w.got[i] {
				out[i].Err = fmt.Errorf("store %s: no acknowledgement from JetStream: %w", msgs[i].ID, ctx.Err())
			}
		}
		p.mu.Unlock()
	}
	return out
}

// acknowledged is the subscription's handler: one acknowledgement.
func (p *Publisher) acknowledged(m *nats.Msg) {
	rest, ok := strings.CutPrefix(m.Subject, p.prefix)
	if !ok {
		return
	}
	batch, index, ok := strings.Cut(rest, ".")
	if !ok {
		return
	}
	id, err1 := strconv.ParseUint(batch, 10, 64)
	i, err2 := strconv.Atoi(index)
	if err1 != nil || err2 != nil {
		return
	}
	p.settle(id, i, ackOutcome(m))
}

// settle records the outcome of message i of batch id (once; late or unknown
// acknowledgements are dropped).
func (p *Publisher) settle(id uint64, i int, o Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.waiting[id]
	if w == nil || i < 0 || i >= len(w.out) || w.got[i] {
		return
	}
	w.out[i], w.got[i] = o, true
	if w.left--; w.left == 0 {
		delete(p.waiting, id)
		close(w.done)
	}
}

// ackOutcome reads JetStream's answer to one publish.
func ackOutcome(m *nats.Msg) Outcome {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return Outcome{Err: fmt.Errorf("no JetStream stream answered: %w", jetstream.ErrNoStreamResponse)}
	}
	if seq, dup, ok := parseAck(m.Data); ok {
		return Outcome{Seq: seq, Duplicate: dup}
	}
	var ack struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Seq       uint64 `json:"seq"`
		Duplicate bool   `json:"duplicate"`
	}
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		return Outcome{Err: fmt.Errorf("JetStream's acknowledgement %q: %w", truncate(m.Data), err)}
	}
	if ack.Error != nil {
		return Outcome{Err: fmt.Errorf("JetStream refused it: %s (code %d, error %d)", ack.Error.Description, ack.Error.Code, ack.Error.ErrCode)}
	}
	if ack.Seq == 0 {
		return Outcome{Err: fmt.Errorf("JetStream's acknowledgement %q has no seq", truncate(m.Data))}
	}
	return Outcome{Seq: ack.Seq, Duplicate: ack.Duplicate}
}

// parseAck reads an acknowledgement of the usual form, {"stream":"EVENTS",
// "seq":12,"duplicate":true} with optional "domain" and "duplicate" and no
// other key; ok is false for anything else (an error, an unknown key, other
// spacing), which is left to encoding/json.
func parseAck(b []byte) (seq uint64, dup, ok bool) {
	s := string(b)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return 0, false, false
	}
	for _, member := range strings.Split(s[1:len(s)-1], ",") {
		key, val, found := strings.Cut(member, ":")
		if !found {
			return 0, false, false
		}
		switch key {
		case `"stream"`, `"domain"`:
			if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' || strings.ContainsAny(val[1:len(val)-1], `"\`) {
				return 0, false, false
			}
		case `"seq"`:
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil || n == 0 {
				return 0, false, false
			}
			seq = n
		case `"duplicate"`:
			switch val {
			case "true":
				dup = true
			case "false":
			default:
				return 0, false, false
			}
		default:
			return 0, false, false
		}
	}
	return seq, dup, seq != 0
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
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
