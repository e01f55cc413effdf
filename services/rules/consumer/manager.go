package consumer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/services/rules/store"
)

// Config tunes the consumers.
type Config struct {
	// Partitions per rule set version. Changing it needs a projections rebuild.
	Partitions int
	// Batch is the most events committed in one transaction.
	Batch int
	// NoWorkers runs no worker in this process: versions are only tracked, so
	// that the watermark, the lag and WaitFor cover them while the workers of
	// other processes (`ledgerline serve --role rules`) do the work.
	NoWorkers bool
}

// Manager runs the partition workers of every rule set version.
type Manager struct {
	js     jetstream.JetStream
	stream string
	store  *store.Store
	cfg    Config
	log    *slog.Logger

	mu      sync.Mutex
	parent  context.Context // what Start was given: workers live until it ends
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running map[string]*Version // consumer name prefix → version

	events  prometheus.Counter
	batches prometheus.Histogram
	rows    prometheus.Counter
	fails   prometheus.Counter
}

// NewManager prepares the workers; Start runs them.
func NewManager(js jetstream.JetStream, stream string, st *store.Store, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Manager {
	if cfg.Partitions < 1 {
		cfg.Partitions = 1
	}
	if cfg.Batch < 1 {
		cfg.Batch = 2000
	}
	m := &Manager{js: js, stream: stream, store: st, cfg: cfg, log: log, running: map[string]*Version{},
		events: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledgerline_rules_events_total",
			Help: "Events evaluated by the rule consumers (an event counts once per rule set version)."}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ledgerline_rules_batch_seconds",
			Help: "Time to evaluate and commit one batch.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledgerline_rules_contributions_total",
			Help: "Contribution rows committed."}),
		fails: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledgerline_rules_failures_total",
			Help: "Rule evaluations recorded as failed."}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.batches, m.rows, m.fails, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ledgerline_rules_lag_events", Help: "Events not yet committed by the rule consumers, summed over versions and partitions.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			lag, _ := m.Lag(ctx)
			return float64(lag)
		}))
	}
	return m
}

// Start runs the workers of versions until ctx ends.
func (m *Manager) Start(ctx context.Context, versions []*Version) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.startLocked(ctx, versions)
}

func (m *Manager) startLocked(ctx context.Context, versions []*Version) {
	m.parent = ctx
	m.ctx, m.cancel = context.WithCancel(ctx)
	for _, v := range versions {
		m.addLocked(v)
	}
}

// Add starts the workers of a (new) version; it replays the stream from the start.
// A version already running is left alone, so a version this process onboarded
// and then finds in the database again (Service.Sync) runs once.
func (m *Manager) Add(v *Version) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addLocked(v)
}

func (m *Manager) addLocked(v *Version) {
	prefix := m.prefix(v)
	if _, ok := m.running[prefix]; ok || m.ctx == nil {
		return
	}
	m.running[prefix] = v
	// Stopped (or rebuilding: the rebuild starts every version it finds here
	// again), the version is only kept.
	ctx := m.ctx
	if m.cfg.NoWorkers || ctx.Err() != nil {
		return
	}
	for p := 0; p < m.cfg.Partitions; p++ {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.runPartition(ctx, v, p)
		}()
	}
}

// Stop stops every worker and waits for them.
func (m *Manager) Stop() {
	m.mu.Lock()
	if m.cancel != nil {
		m.cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// runningLocked lists the versions this manager runs (or tracks).
func (m *Manager) runningLocked() []*Version {
	all := make([]*Version, 0, len(m.running))
	for _, v := range m.running {
		all = append(all, v)
	}
	return all
}

func (m *Manager) prefix(v *Version) string {
	return fmt.Sprintf("rules_%s_v%d", v.Name, v.Number)
}

func (m *Manager) consumerName(v *Version, p int) string {
	return fmt.Sprintf("%s_p%dof%d", m.prefix(v), p, m.cfg.Partitions)
}

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ledgerline-rules:" + name))
	return int64(h.Sum64())
}

// runPartition works one partition of a version for as long as ctx lives,
// starting over (after a pause) on any error.
func (m *Manager) runPartition(ctx context.Context, v *Version, p int) {
	name := m.consumerName(v, p)
	for ctx.Err() == nil {
		err := m.work(ctx, v, p, name)
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, errRebuilt):
			m.log.Info("the projections were rebuilt by another process; this partition starts over", "consumer", name)
		case err != nil && !errors.Is(err, errNotOwner):
			m.log.Warn("rule consumer stopped; restarting", "consumer", name, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

var errNotOwner = errors.New("another process works this partition")

// errRebuilt means the partition's stored position was dropped (or moved back)
// under this worker, by a rebuild run in another process.
var errRebuilt = errors.New("the partition's position was dropped by a rebuild")

// idleCheck is how often a worker with nothing to do checks that its stored
// position is still there.
const idleCheck = time.Second

func (m *Manager) work(ctx context.Context, v *Version, p int, name string) error {
	conn, err := m.store.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey(name)).Scan(&locked); err != nil {
		return err
	}
	if !locked {
		return errNotOwner
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey(name)) //nolint:errcheck

	// The committed position in PostgreSQL is the truth; the JetStream consumer is
	// only a cursor. Holding the partition's lock, the worker recreates it to start
	// right after that position: events a crashed worker had received but not
	// committed come again at once, and never get acknowledged unseen (AckAll would
	// otherwise acknowledge them with the first later batch). It is deleted before
	// the position is read: with several partitions the watermark trusts a
	// consumer only while the partition has a position, and an old consumer with
	// nothing pending must not be taken for a partition done.
	if err := m.js.DeleteConsumer(ctx, m.stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("reset consumer %s: %w", name, err)
	}
	pos, err := m.store.Position(ctx, v.Name, v.Number, m.cfg.Partitions, p)
	if err != nil {
		return err
	}
	filter := envelope.PartitionFilter(p, m.cfg.Partitions)
	if m.cfg.Partitions == 1 {
		filter = []string{envelope.StreamSubjects}
	}
	cons, err := m.js.CreateConsumer(ctx, m.stream, jetstream.ConsumerConfig{
		Durable:        name,
		Description:    fmt.Sprintf("rule set %s v%d, partition %d of %d", v.Name, v.Number, p, m.cfg.Partitions),
		FilterSubjects: filter,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    pos + 1,
		AckPolicy:      jetstream.AckAllPolicy,
		AckWait:        2 * time.Minute,
		MaxAckPending:  4 * m.cfg.Batch,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", name, err)
	}
	// Two stages: this goroutine fetches and evaluates batch k+1 while a committer
	// writes batch k. Commits stay in order, each moving the position from where
	// the previous one left it, and each batch is acknowledged only after its commit.
	type evaluated struct {
		b     store.Batch
		from  uint64
		last  jetstream.Msg
		n     int
		start time.Time
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pending := make(chan evaluated, 1)
	committed := make(chan error, 1)
	var through atomic.Uint64 // the position the committer has committed
	through.Store(pos)
	go func() {
		defer close(committed)
		for e := range pending {
			if e.n > 0 {
				if err := m.store.Commit(ctx, e.b, e.from); err != nil {
					committed <- fmt.Errorf("commit batch through seq %d: %w", e.b.Through, err)
					cancel()
					return
				}
				m.events.Add(float64(e.n))
				m.rows.Add(float64(len(e.b.Contributions)))
				m.fails.Add(float64(len(e.b.Failures)))
				through.Store(e.b.Through)
			}
			putRows(e.b.Contributions)
			// AckAll: acknowledging the last message acknowledges the batch.
			if err := e.last.Ack(); err != nil {
				m.log.Warn("ack after commit failed; the batch will be redelivered and skipped", "consumer", name, "err", err)
			}
			m.batches.Observe(time.Since(e.start).Seconds())
		}
	}()
	stop := func(err error) error {
		close(pending)
		if cerr := <-committed; cerr != nil {
			return cerr
		}
		return err
	}
	var delivered uint64 // the consumer sequence of the last message received
	checked := time.Now()
	for ctx.Err() == nil {
		msgs, err := m.gather(ctx, cons)
		if err != nil {
			return stop(err)
		}
		if len(msgs) == 0 {
			// A rebuild in another process drops the positions; a busy worker
			// finds out at its next commit (ErrStalePosition), an idle one only
			// by looking: it may hold the partition on a consumer past the
			// stream's end, and the rebuild would wait for its next event.
			if time.Since(checked) >= idleCheck {
				checked = time.Now()
				stored, ok, err := m.store.StoredPosition(ctx, v.Name, v.Number, m.cfg.Partitions, p)
				if err != nil {
					return stop(err)
				}
				if !ok || stored < through.Load() {
					return stop(errRebuilt)
				}
			}
			continue
		}
		seqs, err := inSequence(msgs, &delivered)
		if err != nil {
			return stop(err)
		}
		e := evaluated{from: pos, last: msgs[len(msgs)-1], start: time.Now(),
			b: store.Batch{Ruleset: v.Name, Version: v.Number, Partitions: m.cfg.Partitions, Partition: p, Through: pos}}
		e.n = m.evaluate(v, msgs, seqs, pos, &e.b)
		pos = e.b.Through
		select {
		case pending <- e:
		case <-ctx.Done():
		}
	}
	return stop(ctx.Err())
}

// rowBuffers keeps the slices a batch's rows are gathered in: a batch of 2,000
// events makes some 6,000 rows of 200 bytes, and allocating and clearing
// those slices for every batch was a tenth of a rule worker's CPU.
var rowBuffers sync.Pool // *[]store.Contribution

// getRows is an empty slice with room for n rows.
func getRows(n int) []store.Contribution {
	if p, ok := rowBuffers.Get().(*[]store.Contribution); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]store.Contribution, 0, n)
}

// putRows gives rows back once nothing reads them any more. They are not
// cleared: the strings they hold stay reachable until the next batch
// overwrites them, one batch's worth at most.
func putRows(rows []store.Contribution) {
	if cap(rows) == 0 {
		return
	}
	rows = rows[:0]
	rowBuffers.Put(&rows)
}

// errDeliveryGap means the consumer delivered messages this worker never
// received: a pull answered while the connection dropped, or a consumer leader
// change in a cluster. They count as delivered, and the next batch's AckAll
// would acknowledge them unseen, so the worker starts again from its committed
// position instead.
var errDeliveryGap = errors.New("the consumer delivered messages this worker did not receive")

// inSequence checks that msgs continue the consumer's deliveries without a gap:
// each message's consumer sequence is the one after the previous message's. It
// returns the messages' stream seqs.
func inSequence(msgs []jetstream.Msg, delivered *uint64) ([]uint64, error) {
	seqs := make([]uint64, len(msgs))
	for i, msg := range msgs {
		md, err := msg.Metadata()
		if err != nil {
			return nil, err
		}
		if md.Sequence.Consumer != *delivered+1 {
			return nil, fmt.Errorf("%w (delivery %d after %d, stream seq %d)", errDeliveryGap, md.Sequence.Consumer, *delivered, md.Sequence.Stream)
		}
		*delivered = md.Sequence.Consumer
		seqs[i] = md.Sequence.Stream
	}
	return seqs, nil
}

// evaluate applies v to the messages (at stream seqs) after pos, in two halves
// evaluated side by side; it returns how many events it evaluated.
func (m *Manager) evaluate(v *Version, msgs []jetstream.Msg, seqs []uint64, pos uint64, b *store.Batch) int {
	halves := [2]store.Batch{}
	counts := [2]int{}
	mid := len(msgs) / 2
	var wg sync.WaitGroup
	for h, r := range [2][2]int{{0, mid}, {mid, len(msgs)}} {
		// Room for a row per figure and event: grown by append, the rows were
		// copied over and over.
		halves[h].Contributions = getRows((r[1] - r[0]) * len(v.Figures))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r[0]; i < r[1]; i++ {
				if seqs[i] <= pos {
					continue // committed before a crash, redelivered: already counted
				}
				v.Evaluate(seqs[i], msgs[i].Data(), &halves[h])
				counts[h]++
			}
		}()
	}
	wg.Wait()
	b.Contributions = getRows(len(halves[0].Contributions) + len(halves[1].Contributions))
	for h := range halves {
		b.Contributions = append(b.Contributions, halves[h].Contributions...)
		putRows(halves[h].Contributions)
		b.Supersessions = append(b.Supersessions, halves[h].Supersessions...)
		b.FXRates = append(b.FXRates, halves[h].FXRates...)
		b.Failures = append(b.Failures, halves[h].Failures...)
	}
	for _, s := range seqs {
		b.Through = max(b.Through, s)
	}
	return counts[0] + counts[1]
}

// gather fetches up to a batch: at once when the partition has that many events
// waiting (catching up, backfilling), else what arrives within 100 ms.
func (m *Manager) gather(ctx context.Context, cons jetstream.Consumer) ([]jetstream.Msg, error) {
	batch, err := cons.Fetch(m.cfg.Batch, jetstream.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	msgs := make([]jetstream.Msg, 0, m.cfg.Batch)
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && len(msgs) == 0 {
		return nil, err
	}
	return msgs, nil
}

// Stream is the event stream the consumers read.
func (m *Manager) Stream(ctx context.Context) (jetstream.Stream, error) {
	return m.js.Stream(ctx, m.stream)
}

// Watermark is the highest seq up to which every running consumer has committed
// every event (and the stream's last seq when all are idle).
func (m *Manager) Watermark(ctx context.Context) (uint64, error) {
	mark, _, err := m.State(ctx)
	return mark, err
}

// State is the watermark and the stream's last seq.
func (m *Manager) State(ctx context.Context) (mark, last uint64, err error) {
	st, err := m.js.Stream(ctx, m.stream)
	if err != nil {
		return 0, 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	last = info.State.LastSeq
	mark = last
	m.mu.Lock()
	all := m.runningLocked()
	m.mu.Unlock()
	if m.cfg.Partitions == 1 {
		// One partition holds every event, so its committed position is exactly how
		// far the version has processed the stream: no need to read consumer state
		// (whose pending counts may lag a message just stored).
		for _, v := range all {
			low, err := m.store.MinPosition(ctx, 1, map[string]int{v.Name: v.Number})
			if err != nil {
				return 0, 0, err
			}
			mark = min(mark, low)
		}
		return mark, last, nil
	}
	done := map[string]time.Time{} // consumers with nothing pending → when each was created
	err = m.eachConsumer(ctx, st, func(ci *jetstream.ConsumerInfo) {
		if ci == nil {
			mark = 0 // a partition's consumer is being reset: nothing can be promised
			return
		}
		if ci.NumPending == 0 && ci.NumAckPending == 0 {
			done[ci.Name] = ci.Created
			return
		}
		// Acked means committed (ack follows commit); below the ack floor all is done.
		mark = min(mark, ci.AckFloor.Stream)
	})
	if err != nil || mark == 0 || len(done) == 0 {
		return mark, last, err
	}
	// A consumer with nothing pending may be one left from before a rebuild
	// that another process ran (its worker, idle, has not noticed yet): its
	// partition then has no position (a worker deletes its consumer before it
	// stores one). Only then are the positions read, and the consumers read
	// again: one recreated meanwhile was not the one that said it was done.
	for _, v := range all {
		if ok, err := m.store.HasPositions(ctx, v.Name, v.Number, m.cfg.Partitions); err != nil || !ok {
			return 0, last, err
		}
	}
	for name, created := range done {
		c, err := st.Consumer(ctx, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return 0, last, nil
		}
		if err != nil {
			return 0, 0, err
		}
		if !c.CachedInfo().Created.Equal(created) {
			return 0, last, nil
		}
	}
	return mark, last, nil
}

// Lag is the number of events the consumers have not committed yet.
func (m *Manager) Lag(ctx context.Context) (uint64, error) {
	st, err := m.js.Stream(ctx, m.stream)
	if err != nil {
		return 0, err
	}
	var lag uint64
	err = m.eachConsumer(ctx, st, func(ci *jetstream.ConsumerInfo) {
		if ci != nil { // nil: a worker is resetting its consumer right now
			lag += ci.NumPending + uint64(ci.NumAckPending)
		}
	})
	return lag, err
}

func (m *Manager) eachConsumer(ctx context.Context, st jetstream.Stream, fn func(*jetstream.ConsumerInfo)) error {
	m.mu.Lock()
	var names []string
	for _, v := range m.running {
		for p := 0; p < m.cfg.Partitions; p++ {
			names = append(names, m.consumerName(v, p))
		}
	}
	m.mu.Unlock()
	for _, name := range names {
		c, err := st.Consumer(ctx, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			fn(nil)
			continue
		}
		if err != nil {
			return err
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return err
		}
		fn(ci)
	}
	return nil
}

// WaitFor blocks until the watermark reaches seq or ctx ends.
func (m *Manager) WaitFor(ctx context.Context, seq uint64) error {
	for {
		w, err := m.Watermark(ctx)
		if err == nil && w >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rules have not processed the stream up to seq %d (at %d): %w", seq, w, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Reset drops the projections and every rule consumer before any worker runs:
// positions made with another partition count cannot be continued (the new
// consumers would start from the first event again and count it twice).
func (m *Manager) Reset(ctx context.Context, by string) error {
	if err := m.deleteConsumers(ctx); err != nil {
		return err
	}
	return m.store.DropProjections(ctx, by)
}

func (m *Manager) deleteConsumers(ctx context.Context) error {
	st, err := m.js.Stream(ctx, m.stream)
	if err != nil {
		return err
	}
	lister := st.ListConsumers(ctx)
	for ci := range lister.Info() {
		if strings.HasPrefix(ci.Name, "rules_") {
			if err := st.DeleteConsumer(ctx, ci.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return err
			}
		}
	}
	return lister.Err()
}

// Rebuild stops the workers, deletes their consumers, drops the projections and
// starts every version again from the first event. The workers start again
// whatever happens: after a failed drop they continue from their positions.
func (m *Manager) Rebuild(ctx context.Context, by string) error {
	m.Stop()
	defer m.restart()
	if err := m.deleteConsumers(ctx); err != nil {
		return fmt.Errorf("delete the rule consumers: %w", err)
	}
	if err := m.store.DropProjections(ctx, by); err != nil {
		return fmt.Errorf("drop the projections: %w", err)
	}
	return nil
}

// restart starts the workers of every version known by now again, including
// one another process onboarded while these were stopped (Add kept it, with no
// workers), in one step: an Add in between would otherwise find it running
// and start nothing.
func (m *Manager) restart() {
	m.mu.Lock()
	defer m.mu.Unlock()
	versions := m.runningLocked()
	m.running = map[string]*Version{}
	m.startLocked(m.parent, versions)
}
