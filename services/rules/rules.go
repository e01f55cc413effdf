package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/rules/celenv"
	"github.com/ledgerline/ledgerline/services/rules/consumer"
	"github.com/ledgerline/ledgerline/services/rules/period"
	"github.com/ledgerline/ledgerline/services/rules/ruleset"
	"github.com/ledgerline/ledgerline/services/rules/store"
)

// Config configures the rules service.
type Config struct {
	Stream     string
	Partitions int
	Batch      int
	// QueryOnly runs no consumer: the service answers figures, lineage and the
	// watermark from what the consumers of other processes commit (the reports
	// role of `ledgerline serve`). It never rebuilds the projections.
	QueryOnly bool
}

// syncInterval is how often the service looks for rule set versions onboarded
// by other processes.
const syncInterval = time.Second

// Poster stores an event through the ingest path and answers its seq (used for
// manual adjustments, so they are validated and kept like any event).
type Poster func(ctx context.Context, by string, raw []byte) (seq uint64, err error)

// Service is the rules use cases.
type Service struct {
	env   *celenv.Env
	store *store.Store
	mgr   *consumer.Manager
	post  Poster
	log   *slog.Logger

	partitions int

	mu       sync.RWMutex
	versions map[string][]*loaded // rule set → versions, oldest first
	owner    map[string]string    // figure → rule set
	count    int                  // versions loaded

	syncMu sync.Mutex // one Sync at a time
}

type loaded struct {
	meta    store.Version
	rs      *ruleset.RuleSet
	figures map[string]*ruleset.Figure
}

// New loads and compiles every stored rule set version and starts their
// consumers (none with cfg.QueryOnly). Until ctx ends it also loads, every
// second, the versions other processes onboard (see Sync).
func New(ctx context.Context, cfg Config, pool *pgxpool.Pool, js jetstream.JetStream, post Poster, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	env, err := celenv.New()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	st := store.New(pool)
	s := &Service{env: env, store: st, post: post, log: log, versions: map[string][]*loaded{}, owner: map[string]string{}, partitions: cfg.Partitions,
		mgr: consumer.NewManager(js, cfg.Stream, st, consumer.Config{Partitions: cfg.Partitions, Batch: cfg.Batch, NoWorkers: cfg.QueryOnly}, log, reg)}
	stored, err := st.Versions(ctx)
	if err != nil {
		return nil, fmt.Errorf("load rule sets: %w", err)
	}
	for _, v := range stored {
		for _, f := range v.Figures {
			s.owner[f.Name] = v.Name
		}
	}
	var start []*consumer.Version
	for _, v := range stored {
		rs, problems := ruleset.Parse([]byte(v.Source), env, s.known(v.Name))
		if len(problems) > 0 {
			return nil, fmt.Errorf("stored rule set %s v%d no longer compiles: %s", v.Name, v.Version, problems[0].Message)
		}
		s.add(v, rs)
		start = append(start, consumer.NewVersion(v.Name, v.Version, rs))
	}
	counts, err := st.PartitionCounts(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.QueryOnly {
		counts = nil // the processes that run the consumers rebuild
	}
	for _, n := range counts {
		if n != max(cfg.Partitions, 1) {
			log.Warn("rules.partitions changed: rebuilding every projection from the stream", "was", n, "now", cfg.Partitions)
			if err := s.mgr.Reset(ctx, fmt.Sprintf("system: rules.partitions changed from %d to %d", n, cfg.Partitions)); err != nil {
				return nil, fmt.Errorf("rebuild after rules.partitions changed: %w", err)
			}
			break
		}
	}
	s.mgr.Start(ctx, start)
	go s.runSync(ctx)
	return s, nil
}

// Sync loads the rule set versions stored since this process last looked
// (onboarded through another process) and starts their consumers: one count
// query when there are none. Several processes serve one database, and each
// keeps the compiled versions in memory; the reports service's filings call it
// through WaitFor, and a request naming a figure this process does not know
// calls it before answering 404.
func (s *Service) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	n, err := s.store.VersionCount(ctx)
	if err != nil {
		return fmt.Errorf("count rule set versions: %w", err)
	}
	s.mu.RLock()
	have := s.count
	s.mu.RUnlock()
	if n == have {
		return nil
	}
	stored, err := s.store.Versions(ctx)
	if err != nil {
		return fmt.Errorf("load rule sets: %w", err)
	}
	var fresh []store.Version
	s.mu.Lock()
	for _, v := range stored {
		if s.loaded(v.Name, v.Version) == nil {
			fresh = append(fresh, v)
			for _, f := range v.Figures {
				s.owner[f.Name] = v.Name
			}
		}
	}
	s.mu.Unlock()
	for _, v := range fresh {
		rs, problems := ruleset.Parse([]byte(v.Source), s.env, s.known(v.Name))
		if len(problems) > 0 {
			s.log.Error("a rule set version onboarded elsewhere does not compile here", "ruleset", v.Name, "version", v.Version,
				"err", problems[0].Message)
			continue
		}
		if s.add(v, rs) {
			s.mgr.Add(consumer.NewVersion(v.Name, v.Version, rs))
			s.log.Info("rule set version loaded (onboarded by another process)", "ruleset", v.Name, "version", v.Version)
		}
	}
	return nil
}

func (s *Service) runSync(ctx context.Context) {
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("looking for new rule set versions", "err", err)
			}
		}
	}
}

// syncNew runs Sync and tells whether it loaded any version.
func (s *Service) syncNew(ctx context.Context) bool {
	s.mu.RLock()
	before := s.count
	s.mu.RUnlock()
	if err := s.Sync(ctx); err != nil {
		s.log.Warn("looking for new rule set versions", "err", err)
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.count != before
}

// resolveFresh is resolve, after loading new versions when the figure or the
// pinned version is unknown here.
func (s *Service) resolveFresh(ctx context.Context, name string, p period.Period, pinned map[string]int) (*loaded, *ruleset.Figure, error) {
	l, f, err := s.resolve(name, p, pinned)
	if errors.Is(err, httpjson.ErrNotFound) && s.syncNew(ctx) {
		l, f, err = s.resolve(name, p, pinned)
	}
	return l, f, err
}

// Stop stops the consumers.
func (s *Service) Stop() { s.mgr.Stop() }

// known reports figures defined by rule sets other than name.
func (s *Service) known(name string) func(string) bool {
	return func(figure string) bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		owner, ok := s.owner[figure]
		return ok && owner != name
	}
}

// add keeps a compiled version (once: false when it is already there).
func (s *Service) add(meta store.Version, rs *ruleset.RuleSet) bool {
	l := &loaded{meta: meta, rs: rs, figures: map[string]*ruleset.Figure{}}
	for i := range rs.Figures {
		l.figures[rs.Figures[i].Name] = &rs.Figures[i]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded(meta.Name, meta.Version) != nil {
		return false
	}
	vs := append(s.versions[meta.Name], l)
	sort.Slice(vs, func(i, j int) bool { return vs[i].meta.Version < vs[j].meta.Version })
	s.versions[meta.Name] = vs
	for name := range l.figures {
		s.owner[name] = meta.Name
	}
	s.count++
	return true
}

// loaded is the version if it is loaded; the caller holds s.mu.
func (s *Service) loaded(name string, version int) *loaded {
	for _, l := range s.versions[name] {
		if l.meta.Version == version {
			return l
		}
	}
	return nil
}

// Invalid is the answer to a rule set that does not compile: every problem.
type Invalid struct {
	Problems []ruleset.Problem
}

func (e *Invalid) Error() string {
	msgs := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		msgs = append(msgs, fmt.Sprintf("%s %s: %s", p.Figure, p.Field, p.Message))
	}
	return "the rule set does not compile: " + strings.Join(msgs, "; ")
}

func (e *Invalid) Unwrap() error { return httpjson.ErrInvalid }

// Onboarded is the answer to a successful onboarding.
type Onboarded struct {
	Ruleset       string   `json:"ruleset"`
	Version       int      `json:"version"`
	EffectiveFrom string   `json:"effective_from"`
	Figures       []string `json:"figures"`
}

// Onboard checks a rule set, stores it as a new immutable version and starts its
// consumers, which backfill it from the first event of the stream.
func (s *Service) Onboard(ctx context.Context, src []byte, by string) (Onboarded, error) {
	// Figures of other rule sets may be referenced: parse knowing them.
	rs, problems := ruleset.Parse(src, s.env, s.known(ruleset.PeekName(src)))
	if len(problems) > 0 {
		return Onboarded{}, &Invalid{Problems: problems}
	}
	s.mu.RLock()
	for _, f := range rs.Figures {
		if owner, ok := s.owner[f.Name]; ok && owner != rs.Name {
			s.mu.RUnlock()
			return Onboarded{}, &Invalid{Problems: []ruleset.Problem{{Figure: f.Name, Field: "name",
				Message: fmt.Sprintf("figure %q is already defined by rule set %q (figure names are global)", f.Name, owner)}}}
		}
	}
	s.mu.RUnlock()
	meta := store.Version{Name: rs.Name, EffectiveFrom: rs.EffectiveFrom, Description: rs.Description, Source: string(src), OnboardedBy: by}
	for _, f := range rs.Figures {
		def, _ := json.Marshal(figureDefinition(f))
		meta.Figures = append(meta.Figures, store.FigureDef{Name: f.Name, Kind: string(f.Kind), Definition: def})
	}
	v, err := s.store.Onboard(ctx, meta)
	if err != nil {
		return Onboarded{}, err
	}
	meta.Version = v
	s.add(meta, rs)
	s.mgr.Add(consumer.NewVersion(rs.Name, v, rs))
	out := Onboarded{Ruleset: rs.Name, Version: v, EffectiveFrom: rs.EffectiveFrom}
	for _, f := range rs.Figures {
		out.Figures = append(out.Figures, f.Name)
	}
	s.log.Info("rule set onboarded", "ruleset", rs.Name, "version", v, "by", by)
	return out, nil
}

// Definition is a figure as onboarded: what an auditor reads in the lineage.
type Definition struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Kind        string            `json:"kind"`
	When        string            `json:"when,omitempty"`
	Dimensions  map[string]string `json:"dimensions,omitempty"`
	Value       string            `json:"value"`
	Currency    string            `json:"currency,omitempty"`
}

func figureDefinition(f ruleset.Figure) Definition {
	d := Definition{Name: f.Name, Description: f.Description, Kind: string(f.Kind), When: f.When, Value: f.Value, Currency: f.Currency}
	if len(f.Dimensions) > 0 {
		d.Dimensions = map[string]string{}
		for _, dim := range f.Dimensions {
			d.Dimensions[dim.Name] = dim.Expr
		}
	}
	return d
}

// Versions lists the stored rule set versions.
func (s *Service) Versions(ctx context.Context) ([]store.Version, error) {
	return s.store.Versions(ctx)
}

// FigureRequest asks for a figure as of (period, watermark).
type FigureRequest struct {
	Name     string
	Period   string
	Location *time.Location // the reporting time zone of the period edges (UTC if nil)
	AsOfSeq  uint64         // 0: the current rules watermark
	Currency string         // reporting currency ("" : the figure's own, if it has one)
	Where    map[string]string
	// Versions pins rule set versions (rule set → version), for replaying a
	// filing with the versions it used; a rule set not named here resolves to
	// its version effective for the period.
	Versions map[string]int
	// Filing, for Breakdown, stores the contributions that make up the figure as
	// that filing's lineage; for Contributions, reads them from there.
	Filing string
}

// Conversion is an fx rate used for a figure.
type Conversion struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Rate    string `json:"rate"`
	Inverse bool   `json:"inverse,omitempty"`
	EventID string `json:"event_id"`
	Seq     uint64 `json:"seq"`
}

// Figure is a computed figure.
type Figure struct {
	Name          string            `json:"figure"`
	Ruleset       string            `json:"ruleset"`
	Version       int               `json:"version"`
	Kind          string            `json:"kind"`
	Period        string            `json:"period"`
	AsOfSeq       uint64            `json:"as_of_seq"`
	Currency      string            `json:"currency,omitempty"`
	Value         string            `json:"value"`
	Where         map[string]string `json:"where,omitempty"`
	Contributions int64             `json:"contributions"`
	Conversions   []Conversion      `json:"conversions,omitempty"`
	Inputs        []Figure          `json:"inputs,omitempty"` // the figures a derived figure was computed from
}

// Figure computes one figure.
func (s *Service) Figure(ctx context.Context, r FigureRequest) (Figure, error) {
	if r.Location == nil {
		r.Location = time.UTC
	}
	p, err := period.Parse(r.Period, r.Location)
	if err != nil {
		return Figure{}, fmt.Errorf("period: %w: %w", err, httpjson.ErrInvalid)
	}
	if _, _, err := s.resolveFresh(ctx, r.Name, p, r.Versions); err != nil {
		return Figure{}, err
	}
	if r.AsOfSeq == 0 {
		if r.AsOfSeq, err = s.defaultAsOf(ctx, r.Name, p); err != nil {
			return Figure{}, fmt.Errorf("rules watermark: %w: %w", err, httpjson.ErrUnavailable)
		}
	}
	return s.figure(ctx, r, p, 0, s.store.Sums)
}

// sumsFunc sums the contributions of a stock, flow or cumulative figure: from
// every contribution (Store.Sums) or from a filing's stored lineage.
type sumsFunc func(ctx context.Context, q store.Query) ([]store.Sum, error)

// figure computes a figure; a derived one from its inputs, recursively, the
// others from the sums that sums answers.
func (s *Service) figure(ctx context.Context, r FigureRequest, p period.Period, depth int, sums sumsFunc) (Figure, error) {
	if depth > 32 {
		return Figure{}, fmt.Errorf("figure %s: derived figures nest too deep", r.Name)
	}
	l, f, err := s.resolve(r.Name, p, r.Versions)
	if err != nil {
		return Figure{}, err
	}
	out := Figure{Name: f.Name, Ruleset: l.meta.Name, Version: l.meta.Version, Kind: string(f.Kind), Period: r.Period,
		AsOfSeq: r.AsOfSeq, Currency: r.Currency, Where: r.Where}
	if f.Kind == ruleset.KindDerived {
		val, err := f.ValueProg.Derived(func(name string, dims map[string]string) (decimal.Decimal, error) {
			in := r
			in.Name, in.Where = name, dims
			sub, err := s.figure(ctx, in, p, depth+1, sums)
			if err != nil {
				return decimal.Decimal{}, err
			}
			out.Inputs = append(out.Inputs, sub)
			if sub.Currency != "" && out.Currency != "" && sub.Currency != out.Currency {
				return decimal.Decimal{}, fmt.Errorf("its inputs are in %s and %s: ask for it in one reporting currency (currency=EUR): %w",
					out.Currency, sub.Currency, httpjson.ErrInvalid)
			}
			if out.Currency == "" {
				out.Currency = sub.Currency
			}
			return decimal.NewFromString(sub.Value)
		})
		if err != nil {
			if !errors.Is(err, httpjson.ErrUnavailable) && !errors.Is(err, httpjson.ErrInvalid) && !errors.Is(err, httpjson.ErrNotFound) {
				err = fmt.Errorf("%w: %w", err, httpjson.ErrInvalid) // the expression failed (division by zero, say)
			}
			return Figure{}, fmt.Errorf("figure %s: %w", f.Name, err)
		}
		out.Value = val.String()
		return out, nil
	}
	leaves, err := sums(ctx, store.Query{Figure: f.Name, Ruleset: l.meta.Name, Version: l.meta.Version, Kind: string(f.Kind),
		Period: p.Text, Start: p.Start, End: p.End, AsOf: r.AsOfSeq, Where: r.Where})
	if err != nil {
		return Figure{}, err
	}
	total := decimal.Zero
	target := r.Currency
	if target == "" {
		var currencies []string
		for _, sm := range leaves {
			if sm.Currency != "" {
				currencies = append(currencies, sm.Currency)
			}
		}
		sort.Strings(currencies)
		switch len(currencies) {
		case 0:
		case 1:
			target = currencies[0]
		default:
			return Figure{}, fmt.Errorf("figure %s has amounts in %s: ask for it in one reporting currency (currency=EUR): %w",
				f.Name, strings.Join(currencies, ", "), httpjson.ErrInvalid)
		}
	}
	out.Currency = target
	for _, sm := range leaves {
		out.Contributions += sm.Count
		if sm.Currency == "" || sm.Currency == target {
			total = total.Add(sm.Value)
			continue
		}
		rate, err := s.store.FXRate(ctx, sm.Currency, target, p.End, r.AsOfSeq)
		if err != nil {
			return Figure{}, fmt.Errorf("figure %s: %w", f.Name, err)
		}
		total = total.Add(rate.Convert(sm.Value))
		out.Conversions = append(out.Conversions, Conversion{From: rate.From, To: rate.To, Rate: rate.Rate.String(),
			Inverse: rate.Inverse, EventID: rate.EventID, Seq: rate.Seq})
	}
	out.Value = total.String()
	return out, nil
}

// defaultAsOf is the watermark a figure is computed at when none is asked for:
// how far the version it comes from has processed the stream, so that another rule
// set backfilling does not pull every figure back. Derived figures (whose inputs
// may come from other rule sets) use the watermark of every version.
func (s *Service) defaultAsOf(ctx context.Context, name string, p period.Period) (uint64, error) {
	l, f, err := s.resolve(name, p)
	if err != nil || f.Kind == ruleset.KindDerived || s.partitions != 1 {
		return s.mgr.Watermark(ctx)
	}
	mark, last, err := s.mgr.State(ctx)
	if err != nil {
		return 0, err
	}
	own, err := s.store.MinPosition(ctx, 1, map[string]int{l.meta.Name: l.meta.Version})
	if err != nil {
		return 0, err
	}
	return max(mark, min(own, last)), nil
}

// resolve finds the rule set version in force for the period (the latest whose
// effective_from is not after the period's start) and the figure in it.
func (s *Service) resolve(name string, p period.Period, pinned ...map[string]int) (*loaded, *ruleset.Figure, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	owner, ok := s.owner[name]
	if !ok {
		return nil, nil, fmt.Errorf("figure %q: no rule set defines it: %w", name, httpjson.ErrNotFound)
	}
	if len(pinned) > 0 {
		if v, ok := pinned[0][owner]; ok {
			for _, l := range s.versions[owner] {
				if l.meta.Version == v {
					f, ok := l.figures[name]
					if !ok {
						return nil, nil, fmt.Errorf("figure %q is not in rule set %s v%d: %w", name, owner, v, httpjson.ErrNotFound)
					}
					return l, f, nil
				}
			}
			return nil, nil, fmt.Errorf("rule set %s has no version %d: %w", owner, v, httpjson.ErrNotFound)
		}
	}
	start, _ := period.Parse(p.Text, time.UTC)
	var found *loaded
	for _, l := range s.versions[owner] {
		eff, err := period.Parse(l.meta.EffectiveFrom, time.UTC)
		if err == nil && !eff.Start.After(start.Start) {
			found = l
		}
	}
	if found == nil {
		return nil, nil, fmt.Errorf("figure %q: no version of rule set %s is effective for %s: %w", name, owner, p.Text, httpjson.ErrNotFound)
	}
	f, ok := found.figures[name]
	if !ok {
		return nil, nil, fmt.Errorf("figure %q is not in rule set %s v%d, the version effective for %s: %w",
			name, owner, found.meta.Version, p.Text, httpjson.ErrNotFound)
	}
	return found, f, nil
}

// Progress is how far the rules have processed the stream.
type Progress struct {
	Watermark uint64 `json:"watermark"` // every event up to here is committed by every rule set version
	LastSeq   uint64 `json:"last_seq"`  // the stream's last event
	Lag       uint64 `json:"lag"`       // events not yet committed, summed over versions and partitions
}

// Watermark is how far the rules have processed the stream.
func (s *Service) Watermark(ctx context.Context) (Progress, error) {
	if err := s.Sync(ctx); err != nil {
		return Progress{}, fmt.Errorf("%w: %w", err, httpjson.ErrUnavailable)
	}
	w, last, err := s.mgr.State(ctx)
	if err != nil {
		return Progress{}, fmt.Errorf("%w: %w", err, httpjson.ErrUnavailable)
	}
	lag, err := s.mgr.Lag(ctx)
	if err != nil {
		return Progress{}, fmt.Errorf("rules lag: %w: %w", err, httpjson.ErrUnavailable)
	}
	return Progress{Watermark: w, LastSeq: last, Lag: lag}, nil
}

// WaitFor blocks until the rules have processed the stream up to seq, or ctx
// ends: every rule set version stored in the database, wherever it was onboarded.
// Then it brings the planner's statistics up to date (Store.FreshenStats).
func (s *Service) WaitFor(ctx context.Context, seq uint64) error {
	if err := s.Sync(ctx); err != nil {
		return err
	}
	if err := s.mgr.WaitFor(ctx, seq); err != nil {
		return err
	}
	// What waits for the projections queries them next (a filing, mostly). A
	// failed ANALYZE (a role that does not own the tables) only leaves the
	// statistics to autovacuum.
	if err := s.store.FreshenStats(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("analyzing contributions and supersessions failed; autovacuum will", "err", err)
	}
	return nil
}

// Rebuild drops every projection and replays the stream for every rule set version.
func (s *Service) Rebuild(ctx context.Context, by string) error { return s.mgr.Rebuild(ctx, by) }

// Checksum summarises the contribution rows (count, digest).
func (s *Service) Checksum(ctx context.Context) (int64, string, error) { return s.store.Checksum(ctx) }

// Failures lists recorded rule failures.
func (s *Service) Failures(ctx context.Context, limit int) ([]store.Failure, error) {
	return s.store.Failures(ctx, limit)
}

// Adjustment is the body of POST /v1/adjustments.
type Adjustment struct {
	ID         string            `json:"id,omitempty"`
	Figure     string            `json:"figure"`
	Dimensions map[string]string `json:"dimensions"`
	Value      string            `json:"value"`
	Currency   string            `json:"currency,omitempty"`
	Period     string            `json:"period"`
	Reason     string            `json:"reason"`
	Supersedes string            `json:"supersedes,omitempty"`
}

// Adjust posts a manual adjustment as an event through the ingest path, with the
// caller as source and poster: it is validated, kept and traced like any event.
func (s *Service) Adjust(ctx context.Context, by string, a Adjustment) (string, uint64, error) {
	if strings.TrimSpace(a.Reason) == "" {
		return "", 0, fmt.Errorf("reason: an adjustment needs a reason: %w", httpjson.ErrInvalid)
	}
	p, err := period.Parse(a.Period, time.UTC)
	if err != nil {
		return "", 0, fmt.Errorf("period: %w: %w", err, httpjson.ErrInvalid)
	}
	_, f, err := s.resolveFresh(ctx, a.Figure, p, nil)
	if errors.Is(err, httpjson.ErrNotFound) {
		return "", 0, fmt.Errorf("figure: %w: %w", err, httpjson.ErrInvalid)
	}
	if err != nil {
		return "", 0, err
	}
	if f.Kind == ruleset.KindDerived {
		return "", 0, fmt.Errorf("figure: %s is derived; adjust one of the figures it is computed from: %w", a.Figure, httpjson.ErrInvalid)
	}
	if a.ID == "" {
		a.ID = fmt.Sprintf("adj-%s-%d", a.Figure, time.Now().UnixNano())
	}
	if a.Dimensions == nil {
		a.Dimensions = map[string]string{}
	}
	data := map[string]any{"figure": a.Figure, "dimensions": a.Dimensions, "value": a.Value, "period": a.Period,
		"reason": a.Reason, "posted_by": by}
	if a.Currency != "" {
		data["currency"] = a.Currency
	}
	ev := map[string]any{"id": a.ID, "source": by, "type": "adjustment", "schema_version": 1, "subject": "adjustment:" + a.Figure,
		"occurred_at": time.Now().UTC().Format(time.RFC3339Nano), "data": data}
	if a.Supersedes != "" {
		ev["supersedes"] = a.Supersedes
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return "", 0, err
	}
	if s.post == nil {
		return "", 0, fmt.Errorf("this process cannot store adjustments (a query-only rules service): %w", httpjson.ErrUnavailable)
	}
	seq, err := s.post(ctx, by, raw)
	return a.ID, seq, err
}

// BreakdownRow is a figure's value for one set of dimension values, in the
// breakdown's currency.
type BreakdownRow struct {
	Dims          map[string]string
	Value         decimal.Decimal
	Contributions int64
}

// Breakdown is a figure as of (period, watermark) by dimension set: every row
// converted into one currency. Summing the rows that match a filter gives the
// figure under that filter, so a report asks once per figure, not once per cell.
type Breakdown struct {
	Figure // the figure over every dimension (Value is the sum of Rows)
	Rows   []BreakdownRow
}

// Breakdown computes a stock, flow or cumulative figure by dimension set; the
// request's Where narrows it like Figure's does. Derived figures have no
// dimensions: ask Figure for them.
func (s *Service) Breakdown(ctx context.Context, r FigureRequest) (Breakdown, error) {
	if r.Location == nil {
		r.Location = time.UTC
	}
	p, err := period.Parse(r.Period, r.Location)
	if err != nil {
		return Breakdown{}, fmt.Errorf("period: %w: %w", err, httpjson.ErrInvalid)
	}
	if _, _, err := s.resolveFresh(ctx, r.Name, p, r.Versions); err != nil {
		return Breakdown{}, err
	}
	if r.AsOfSeq == 0 {
		if r.AsOfSeq, err = s.defaultAsOf(ctx, r.Name, p); err != nil {
			return Breakdown{}, fmt.Errorf("rules watermark: %w: %w", err, httpjson.ErrUnavailable)
		}
	}
	l, f, err := s.resolve(r.Name, p, r.Versions)
	if err != nil {
		return Breakdown{}, err
	}
	if f.Kind == ruleset.KindDerived {
		return Breakdown{}, fmt.Errorf("figure %s is derived: it has no dimensions to break down: %w", f.Name, httpjson.ErrInvalid)
	}
	q := store.Query{Figure: f.Name, Ruleset: l.meta.Name, Version: l.meta.Version, Kind: string(f.Kind),
		Period: p.Text, Start: p.Start, End: p.End, AsOf: r.AsOfSeq, Where: r.Where}
	var sums []store.DimSum
	if r.Filing != "" && len(r.Where) == 0 {
		sums, err = s.store.MaterializeByDims(ctx, q, r.Filing)
	} else {
		sums, err = s.store.SumsByDims(ctx, q)
	}
	if err != nil {
		return Breakdown{}, err
	}
	out := Breakdown{Figure: Figure{Name: f.Name, Ruleset: l.meta.Name, Version: l.meta.Version, Kind: string(f.Kind), Period: r.Period,
		AsOfSeq: r.AsOfSeq, Currency: r.Currency, Where: r.Where}}
	if out.Currency == "" {
		seen := map[string]bool{}
		for _, sm := range sums {
			if sm.Currency != "" {
				seen[sm.Currency] = true
			}
		}
		currencies := make([]string, 0, len(seen))
		for c := range seen {
			currencies = append(currencies, c)
		}
		sort.Strings(currencies)
		if len(currencies) > 1 {
			return Breakdown{}, fmt.Errorf("figure %s has amounts in %s: ask for it in one reporting currency (currency=EUR): %w",
				f.Name, strings.Join(currencies, ", "), httpjson.ErrInvalid)
		}
		if len(currencies) == 1 {
			out.Currency = currencies[0]
		}
	}
	rates := map[string]store.Rate{}
	index := map[string]int{} // dimension set → row
	total := decimal.Zero
	for _, sm := range sums {
		v := sm.Value
		if sm.Currency != "" && sm.Currency != out.Currency {
			rate, ok := rates[sm.Currency]
			if !ok {
				if rate, err = s.store.FXRate(ctx, sm.Currency, out.Currency, p.End, r.AsOfSeq); err != nil {
					return Breakdown{}, fmt.Errorf("figure %s: %w", f.Name, err)
				}
				rates[sm.Currency] = rate
				out.Conversions = append(out.Conversions, Conversion{From: rate.From, To: rate.To, Rate: rate.Rate.String(),
					Inverse: rate.Inverse, EventID: rate.EventID, Seq: rate.Seq})
			}
			v = rate.Convert(v)
		}
		key := dimsKey(sm.Dims)
		i, ok := index[key]
		if !ok {
			i = len(out.Rows)
			index[key] = i
			out.Rows = append(out.Rows, BreakdownRow{Dims: sm.Dims})
		}
		out.Rows[i].Value = out.Rows[i].Value.Add(v)
		out.Rows[i].Contributions += sm.Count
		out.Contributions += sm.Count
		total = total.Add(v)
	}
	out.Value = total.String()
	return out, nil
}

func dimsKey(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(k)
		sb.WriteByte(0)
		sb.WriteString(d[k])
		sb.WriteByte(0)
	}
	return sb.String()
}

// FigureInfo describes a figure as its latest rule set version defines it: its
// kind and dimension names (sorted); ok is false when no rule set defines it.
// Report templates are checked against it. A figure not known here is looked
// for in the versions other processes onboarded first.
func (s *Service) FigureInfo(name string) (kind string, dimensions []string, ok bool) {
	if kind, dimensions, ok = s.figureInfo(name); ok {
		return kind, dimensions, ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.syncNew(ctx) {
		return s.figureInfo(name)
	}
	return "", nil, false
}

func (s *Service) figureInfo(name string) (kind string, dimensions []string, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	owner, ok := s.owner[name]
	if !ok {
		return "", nil, false
	}
	vs := s.versions[owner]
	for i := len(vs) - 1; i >= 0; i-- {
		if f, ok := vs[i].figures[name]; ok {
			for _, d := range f.Dimensions {
				dimensions = append(dimensions, d.Name)
			}
			sort.Strings(dimensions)
			return string(f.Kind), dimensions, true
		}
	}
	return "", nil, false
}

// LastSeq is the event stream's last sequence.
func (s *Service) LastSeq(ctx context.Context) (uint64, error) {
	_, last, err := s.mgr.State(ctx)
	return last, err
}

// ContributionRow is one contribution of a figure as lineage shows it: the
// event, what it contributed in its own currency and in the asked one.
type ContributionRow struct {
	Seq        uint64            `json:"seq"`
	EventID    string            `json:"event_id"`
	Subject    string            `json:"subject"`
	OccurredAt time.Time         `json:"occurred_at"`
	Dimensions map[string]string `json:"dimensions"`
	Value      string            `json:"value"`              // as contributed, in Currency
	Currency   string            `json:"currency,omitempty"` // the contribution's own currency
	// Converted is the value in the asked currency, with the rate used (nil when
	// no conversion was needed).
	Converted  *ConvertedValue `json:"converted,omitempty"`
	Adjustment string          `json:"adjustment_period,omitempty"` // set for a manual adjustment
}

// ConvertedValue is a contribution converted into the reporting currency.
type ConvertedValue struct {
	Value      string     `json:"value"`
	Currency   string     `json:"currency"`
	Conversion Conversion `json:"rate"`
}

// Contributions pages the contributions that make up a stock, flow or
// cumulative figure under the request's filter, newest seq first, below before
// (0: from the watermark). Their converted values sum to the figure.
func (s *Service) Contributions(ctx context.Context, r FigureRequest, before uint64, limit int) ([]ContributionRow, error) {
	q, derived, err := s.lineageQuery(ctx, r)
	if err != nil {
		return nil, err
	}
	if r.AsOfSeq == 0 {
		return nil, fmt.Errorf("contributions need a watermark (as_of_seq): %w", httpjson.ErrInvalid)
	}
	if derived {
		return nil, fmt.Errorf("figure %s is derived: it has no contributions of its own, see its inputs: %w", q.Figure, httpjson.ErrInvalid)
	}
	var rows []store.Row
	if r.Filing != "" {
		rows, err = s.store.LineageRows(ctx, q, r.Filing, before, limit)
	} else {
		rows, err = s.store.Rows(ctx, q, before, limit)
	}
	if err != nil {
		return nil, err
	}
	rates := map[string]store.Rate{}
	out := make([]ContributionRow, 0, len(rows))
	for _, row := range rows {
		c := ContributionRow{Seq: row.Seq, EventID: row.EventID, Subject: row.Subject, OccurredAt: row.OccurredAt, Dimensions: row.Dims,
			Value: row.Value.String(), Currency: row.Currency, Adjustment: row.AdjPeriod}
		if row.Currency != "" && r.Currency != "" && row.Currency != r.Currency {
			rate, ok := rates[row.Currency]
			if !ok {
				if rate, err = s.store.FXRate(ctx, row.Currency, r.Currency, q.End, r.AsOfSeq); err != nil {
					return nil, fmt.Errorf("figure %s: %w", q.Figure, err)
				}
				rates[row.Currency] = rate
			}
			c.Converted = &ConvertedValue{Value: rate.Convert(row.Value).String(), Currency: r.Currency, Conversion: Conversion{
				From: rate.From, To: rate.To, Rate: rate.Rate.String(), Inverse: rate.Inverse, EventID: rate.EventID, Seq: rate.Seq}}
		}
		out = append(out, c)
	}
	return out, nil
}

// EventContributions lists what the event at seq contributed, by every rule set
// version, and what it stopped counting in stock figures (StopsCounting).
func (s *Service) EventContributions(ctx context.Context, seq uint64) ([]store.EventContribution, error) {
	return s.store.EventContributions(ctx, seq)
}

// Superseded lists the events that corrections or voids with seq in (after,
// through] took out of the figure under the request's filter, and, for a stock
// figure, the later events of a subject that stopped its contribution counting
// there (StopsCounting: a tombstone, or a move to other dimension values).
func (s *Service) Superseded(ctx context.Context, r FigureRequest, after, through uint64) ([]store.Supersession, error) {
	lc, err := s.LateChanges(ctx, r, after, through)
	if err != nil || lc == nil {
		return nil, err
	}
	return lc.Under(r.Where), nil
}

// lineageQuery is the store query of r's figure at r's watermark, under r's
// filter; derived is true for a derived figure, which has no contributions.
func (s *Service) lineageQuery(ctx context.Context, r FigureRequest) (q store.Query, derived bool, err error) {
	if r.Location == nil {
		r.Location = time.UTC
	}
	p, err := period.Parse(r.Period, r.Location)
	if err != nil {
		return q, false, fmt.Errorf("period: %w: %w", err, httpjson.ErrInvalid)
	}
	l, f, err := s.resolveFresh(ctx, r.Name, p, r.Versions)
	if err != nil {
		return q, false, err
	}
	return store.Query{Figure: f.Name, Ruleset: l.meta.Name, Version: l.meta.Version, Kind: string(f.Kind),
		Period: p.Text, Start: p.Start, End: p.End, AsOf: r.AsOfSeq, Where: r.Where}, f.Kind == ruleset.KindDerived, nil
}

// LateContributions are the rows that count for the request's figure at its
// watermark with seq above after, under every filter (r.Where is not used),
// newest first: from the filing's stored lineage when r.Filing names one whose
// lineage is stored, as Contributions reads it. Nil for a derived figure.
func (s *Service) LateContributions(ctx context.Context, r FigureRequest, after uint64) ([]store.Row, error) {
	q, derived, err := s.lineageQuery(ctx, r)
	if err != nil || derived {
		return nil, err
	}
	return s.store.LateRows(ctx, q, r.Filing, after)
}

// LateChanges is what Superseded lists, read once for the request's figure under
// every filter (r.Where is not used): Under gives it for one filter. It is nil
// for a derived figure, which has no contributions of its own.
func (s *Service) LateChanges(ctx context.Context, r FigureRequest, after, through uint64) (*store.LateChanges, error) {
	q, derived, err := s.lineageQuery(ctx, r)
	if err != nil || derived {
		return nil, err
	}
	return s.store.LateChanges(ctx, q, after, through)
}

// FigureDefinition is a figure as a rule set version defines it, with its CEL
// source, for lineage.
func (s *Service) FigureDefinition(ruleset string, version int, name string) (store.FigureDef, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, l := range s.versions[ruleset] {
		if l.meta.Version != version {
			continue
		}
		for _, f := range l.meta.Figures {
			if f.Name == name {
				return f, true
			}
		}
	}
	return store.FigureDef{}, false
}

// SeqAt maps knowledge time to the stream: the last seq recorded at or before
// t (0 when none was). Sequences are never deleted from the event stream and
// their recorded times only grow, so a binary search over GetMsg finds it.
func (s *Service) SeqAt(ctx context.Context, t time.Time) (uint64, error) {
	st, err := s.mgr.Stream(ctx)
	if err != nil {
		return 0, fmt.Errorf("event stream: %w: %w", err, httpjson.ErrUnavailable)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("event stream: %w: %w", err, httpjson.ErrUnavailable)
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq // the answer is in [lo-1, hi]
	if hi == 0 {
		return 0, nil
	}
	at := func(seq uint64) (time.Time, error) {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			return time.Time{}, fmt.Errorf("read seq %d: %w: %w", seq, err, httpjson.ErrUnavailable)
		}
		return envelope.RecordedAt(m.Header.Get(envelope.HeaderRecordedAt), m.Time), nil
	}
	ans := lo - 1
	for lo <= hi {
		mid := lo + (hi-lo)/2
		tm, err := at(mid)
		if err != nil {
			return 0, err
		}
		if tm.After(t) {
			hi = mid - 1
		} else {
			ans, lo = mid, mid+1
		}
	}
	return ans, nil
}
