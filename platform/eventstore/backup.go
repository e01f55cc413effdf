package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/eventstore/backup"
)

// Backups are written from the live stream: an ordered consumer reads every
// message up to the last seq at the start while ingest goes on. JetStream's own
// snapshot ($JS.API.STREAM.SNAPSHOT) is not used: nats.go's jetstream package
// has no client for it, it is a tarball of the server's on-disk store (tied to
// the server's version and layout, not checkable without a server), and its
// restore re-creates the stream itself, which must not exist yet.

// ErrNotEmpty means a restore was asked into a stream that holds messages.
var ErrNotEmpty = errors.New("the stream is not empty")

// ErrSeqMismatch means a restored message did not get its original seq.
var ErrSeqMismatch = errors.New("restored message did not get its original seq")

// Progress is told how many messages are done out of total.
type Progress func(done, total uint64)

// Backup writes every message of the stream up to its last seq at the start to
// w, in the format of package backup, without stopping ingest: messages stored
// after the start are not in the backup.
func (s *Store) Backup(ctx context.Context, w io.Writer, progress Progress) (backup.Header, backup.Trailer, error) {
	info, err := s.Stream.Info(ctx)
	if err != nil {
		return backup.Header{}, backup.Trailer{}, fmt.Errorf("stream %s: %w", s.Name, err)
	}
	st := info.State
	h := backup.Header{Stream: s.Name, FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, Messages: st.Msgs, CreatedAt: time.Now().UTC()}
	if st.Msgs == 0 {
		h.FirstSeq = 0
	}
	bw, err := backup.NewWriter(w, h)
	if err != nil {
		return h, backup.Trailer{}, err
	}
	if h.Messages > 0 {
		if err := s.read(ctx, h, func(m backup.Message) error { return bw.Write(m) }, progress); err != nil {
			return h, backup.Trailer{}, err
		}
	}
	t, err := bw.Close()
	return h, t, err
}

// read hands every message from h.FirstSeq to h.LastSeq to fn, in seq order,
// checking that there are h.Messages of them.
func (s *Store) read(ctx context.Context, h backup.Header, fn func(backup.Message) error, progress Progress) error {
	cons, err := s.Stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: h.FirstSeq})
	if err != nil {
		return fmt.Errorf("read stream %s: %w", s.Name, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return fmt.Errorf("read stream %s: %w", s.Name, err)
	}
	defer it.Stop()
	var n uint64
	for n < h.Messages {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("read stream %s after %d of %d messages: %w", s.Name, n, h.Messages, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read stream %s: %w", s.Name, err)
		}
		if md.Sequence.Stream > h.LastSeq {
			// Fewer messages up to LastSeq than the stream counted: one was deleted meanwhile.
			return fmt.Errorf("stream %s: only %d messages up to seq %d, %d when the read started (deleted meanwhile?)",
				s.Name, n, h.LastSeq, h.Messages)
		}
		if err := fn(backup.Message{Seq: md.Sequence.Stream, Time: md.Timestamp, Subject: m.Subject(),
			Headers: m.Headers(), Data: m.Data()}); err != nil {
			return err
		}
		n++
		if progress != nil && (n%1000 == 0 || n == h.Messages) {
			progress(n, h.Messages)
		}
	}
	return nil
}

// restoreWindow bounds the messages published and not yet acknowledged.
const restoreWindow = 2048

// Restore publishes every message of the backup r into the stream, which must
// be empty, so that each gets its original seq; it checks every acknowledgement,
// then reads the stream back and checks that it holds the backup's messages
// exactly (seq, subject, headers, data). Each message keeps its headers and
// gains envelope.HeaderRecordedAt, its original timestamp, unless it has one.
//
// Read r with backup.Verify first: a backup found damaged half-way has left a
// partial stream behind.
func (s *Store) Restore(ctx context.Context, r *backup.Reader, progress Progress) error {
	h := r.Header
	if h.Stream != s.Name {
		// Every event carries Nats-Expected-Stream: <its stream>, which JetStream
		// checks again when the event is published.
		return fmt.Errorf("the backup is of stream %s; restore it into a stream of that name (--stream-name %s), not %s",
			h.Stream, h.Stream, s.Name)
	}
	if !h.Contiguous() {
		// JetStream numbers what it stores consecutively: a hole in the backup's
		// seqs would shift every later event, and the stream denies deletes.
		return fmt.Errorf("the backup holds %d messages from seq %d to %d, not every seq from 1: "+
			"restored, every event after a gap would get another seq; refusing", h.Messages, h.FirstSeq, h.LastSeq)
	}
	info, err := s.Stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.Name, err)
	}
	if info.State.Msgs != 0 || info.State.LastSeq != 0 {
		return fmt.Errorf("%w: stream %s holds %d messages (last seq %d); a restore needs a new, empty stream "+
			"so every event gets back its seq: use a fresh data dir (embedded NATS) or a server without the stream",
			ErrNotEmpty, s.Name, info.State.Msgs, info.State.LastSeq)
	}

	published := backup.NewDigest()
	var pending []jetstream.PubAckFuture
	var want []uint64
	settle := func(keep int) error {
		for len(pending) > keep {
			f, seq := pending[0], want[0]
			pending, want = pending[1:], want[1:]
			select {
			case ack := <-f.Ok():
				if ack.Sequence != seq || ack.Duplicate || ack.Stream != s.Name {
					return fmt.Errorf("%w: seq %d was stored as seq %d of stream %s (duplicate: %t): another publisher wrote "+
						"to the stream during the restore, or the backup holds an id twice; the stream now holds a partial restore",
						ErrSeqMismatch, seq, ack.Sequence, ack.Stream, ack.Duplicate)
				}
			case err := <-f.Err():
				return fmt.Errorf("restore seq %d: %w (the stream now holds a partial restore)", seq, err)
			case <-ctx.Done():
				return fmt.Errorf("restore seq %d: %w (the stream now holds a partial restore)", seq, ctx.Err())
			}
		}
		return nil
	}
	var n uint64
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("restore after %d of %d messages: %w (the stream now holds a partial restore)", n, h.Messages, err)
		}
		msg := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
		for k, v := range m.Headers {
			msg.Header[k] = v
		}
		if msg.Header.Get(envelope.HeaderRecordedAt) == "" {
			msg.Header.Set(envelope.HeaderRecordedAt, m.Time.UTC().Format(time.RFC3339Nano))
		}
		published.Add(m.Seq, msg.Subject, msg.Header, msg.Data)
		f, err := s.JS.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("restore seq %d: %w (the stream now holds a partial restore)", m.Seq, err)
		}
		pending, want = append(pending, f), append(want, m.Seq)
		if err := settle(restoreWindow); err != nil {
			return err
		}
		n++
		if progress != nil && (n%1000 == 0 || n == h.Messages) {
			progress(n, h.Messages)
		}
	}
	if err := settle(0); err != nil {
		return err
	}
	return s.verifyRestore(ctx, h, published)
}

// verifyRestore reads the restored stream back and compares it with what was
// published.
func (s *Store) verifyRestore(ctx context.Context, h backup.Header, published *backup.Digest) error {
	info, err := s.Stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.Name, err)
	}
	if st := info.State; st.Msgs != h.Messages || st.LastSeq != h.LastSeq || h.Messages > 0 && st.FirstSeq != h.FirstSeq {
		return fmt.Errorf("%w: after the restore stream %s holds %d messages, seq %d to %d; the backup %d, seq %d to %d",
			ErrSeqMismatch, s.Name, st.Msgs, st.FirstSeq, st.LastSeq, h.Messages, h.FirstSeq, h.LastSeq)
	}
	if h.Messages == 0 {
		return nil
	}
	stored := backup.NewDigest()
	if err := s.read(ctx, h, func(m backup.Message) error {
		stored.Add(m.Seq, m.Subject, m.Headers, m.Data)
		return nil
	}, nil); err != nil {
		return fmt.Errorf("verify the restore: %w", err)
	}
	if stored.Sum() != published.Sum() {
		return fmt.Errorf("%w: the restored stream's messages (seq, subject, headers, data) differ from the backup's", ErrSeqMismatch)
	}
	return nil
}
