package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/jackc/pgx/v5"
)

// keys maps what contributions refer to (a rule set version's figure, a set of
// dimension values) to the small integer ids the rows carry. Both are immutable
// once assigned, so a process caches them for ever.
type keys struct {
	mu      sync.Mutex
	figures map[figureKey]int32
	dims    map[string]int32 // by appendDimsKey
}

type figureKey struct {
	ruleset string
	version int
	figure  string
}

// resolve fills ids for every contribution of b (figure[i], dims[i]), assigning
// dimension-set ids for sets never seen before. It runs before the batch's
// transaction, in its own autocommitted statements: a dimension set is a fact
// about values, not about the batch, and an id left unused by a failed batch is
// harmless. Concurrent workers inserting the same set agree through the unique
// constraint.
func (s *Store) resolve(ctx context.Context, cs []Contribution) (figure, dims []int32, err error) {
	figure, dims = make([]int32, len(cs)), make([]int32, len(cs))
	var (
		missingFig  []figureKey
		missingDims = map[string][]Dim{}
		buf         []byte
	)
	// The common case, every key already known, allocates nothing per row: the
	// map lookups with string(buf) do not copy.
	s.keys.mu.Lock()
	if s.keys.figures == nil {
		s.keys.figures, s.keys.dims = map[figureKey]int32{}, map[string]int32{}
	}
	for i := range cs {
		c := &cs[i]
		id, ok := s.keys.figures[figureKey{c.Ruleset, c.Version, c.Figure}]
		if !ok {
			missingFig = append(missingFig, figureKey{c.Ruleset, c.Version, c.Figure})
		}
		figure[i] = id
		buf = appendDimsKey(buf[:0], c.Dims)
		if dims[i], ok = s.keys.dims[string(buf)]; !ok {
			missingDims[string(buf)] = c.Dims
		}
	}
	s.keys.mu.Unlock()
	if len(missingFig) == 0 && len(missingDims) == 0 {
		return figure, dims, nil
	}

	if len(missingFig) > 0 {
		if err := s.loadFigureIDs(ctx, missingFig); err != nil {
			return nil, nil, err
		}
	}
	if len(missingDims) > 0 {
		if err := s.assignDimSets(ctx, missingDims); err != nil {
			return nil, nil, err
		}
	}

	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	for i := range cs {
		c := &cs[i]
		id, ok := s.keys.figures[figureKey{c.Ruleset, c.Version, c.Figure}]
		if !ok {
			return nil, nil, fmt.Errorf("figure %s is not defined by rule set %s v%d", c.Figure, c.Ruleset, c.Version)
		}
		buf = appendDimsKey(buf[:0], c.Dims)
		figure[i], dims[i] = id, s.keys.dims[string(buf)]
	}
	return figure, dims, nil
}

func (s *Store) loadFigureIDs(ctx context.Context, want []figureKey) error {
	names := make([]string, len(want))
	versions := make([]int32, len(want))
	figures := make([]string, len(want))
	for i, k := range want {
		names[i], versions[i], figures[i] = k.ruleset, int32(k.version), k.figure
	}
	rows, err := s.pool.Query(ctx, `SELECT f.ruleset, f.version, f.figure, f.id FROM ruleset_figures f
		JOIN unnest($1::text[], $2::int[], $3::text[]) AS w(ruleset, version, figure) USING (ruleset, version, figure)`,
		names, versions, figures)
	if err != nil {
		return fmt.Errorf("look up figure ids: %w", err)
	}
	found := map[figureKey]int32{}
	var (
		k  figureKey
		id int32
	)
	if _, err := pgx.ForEachRow(rows, []any{&k.ruleset, &k.version, &k.figure, &id}, func() error {
		found[k] = id
		return nil
	}); err != nil {
		return fmt.Errorf("look up figure ids: %w", err)
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	for k, id := range found {
		s.keys.figures[k] = id
	}
	return nil
}

func (s *Store) assignDimSets(ctx context.Context, sets map[string][]Dim) error {
	docs := make([][]byte, 0, len(sets))
	order := make([]string, 0, len(sets))
	for k := range sets {
		order = append(order, k)
	}
	sort.Strings(order) // the same insertion order in every worker: no lock-order deadlocks
	for _, k := range order {
		d := make(map[string]string, len(sets[k]))
		for _, dim := range sets[k] {
			d[dim.Name] = dim.Value
		}
		doc, err := json.Marshal(d)
		if err != nil {
			return err
		}
		docs = append(docs, doc)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO dim_sets (dims) SELECT d FROM unnest($1::jsonb[]) AS d ORDER BY d
		ON CONFLICT (dims) DO NOTHING`, docs); err != nil {
		return fmt.Errorf("store %d dimension sets: %w", len(docs), err)
	}
	ids := make([]int32, len(docs))
	rows, err := s.pool.Query(ctx, `SELECT d.id FROM unnest($1::jsonb[]) WITH ORDINALITY AS w(dims, n)
		JOIN dim_sets d ON d.dims = w.dims ORDER BY w.n`, docs)
	if err != nil {
		return fmt.Errorf("look up dimension sets: %w", err)
	}
	i := 0
	var id int32
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error {
		if i < len(ids) {
			ids[i] = id
		}
		i++
		return nil
	}); err != nil {
		return fmt.Errorf("look up dimension sets: %w", err)
	}
	if i != len(ids) {
		return fmt.Errorf("look up dimension sets: found %d of %d", i, len(ids))
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	for j, k := range order {
		s.keys.dims[k] = ids[j]
	}
	return nil
}

// appendDimsKey appends the key of a sorted dimension set to buf.
func appendDimsKey(buf []byte, ds []Dim) []byte {
	for _, d := range ds {
		buf = append(buf, d.Name...)
		buf = append(buf, 0)
		buf = append(buf, d.Value...)
		buf = append(buf, 0)
	}
	return buf
}
