package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// keys maps what contributions refer to (a rule set version's figure, a set of
// dimension values) to the small integer ids the rows carry. Both are immutable
// once assigned, so a process caches them for ever.
type keys struct {
	mu      sync.Mutex
	figures map[figureKey]int32
	dims    map[string]int32 // by dimsKey
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
	dimKeys := make([]string, len(cs))
	var (
		missingFig  []figureKey
		missingDims = map[string]map[string]string{}
	)
	s.keys.mu.Lock()
	if s.keys.figures == nil {
		s.keys.figures, s.keys.dims = map[figureKey]int32{}, map[string]int32{}
	}
	for i := range cs {
		c := &cs[i]
		fk := figureKey{c.Ruleset, c.Version, c.Figure}
		if _, ok := s.keys.figures[fk]; !ok {
			missingFig = append(missingFig, fk)
		}
		dimKeys[i] = dimsKey(c.Dims)
		if _, ok := s.keys.dims[dimKeys[i]]; !ok {
			missingDims[dimKeys[i]] = c.Dims
		}
	}
	s.keys.mu.Unlock()

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
		figure[i], dims[i] = id, s.keys.dims[dimKeys[i]]
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

func (s *Store) assignDimSets(ctx context.Context, sets map[string]map[string]string) error {
	docs := make([][]byte, 0, len(sets))
	order := make([]string, 0, len(sets))
	for k := range sets {
		order = append(order, k)
	}
	sort.Strings(order) // the same insertion order in every worker: no lock-order deadlocks
	for _, k := range order {
		d := sets[k]
		if d == nil {
			d = map[string]string{}
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

// dimsKey identifies a dimension set (map order does not matter).
func dimsKey(d map[string]string) string {
	if len(d) == 0 {
		return ""
	}
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
