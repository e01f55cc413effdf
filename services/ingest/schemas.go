package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/ledgerline/ledgerline/platform/envelope"
	"github.com/ledgerline/ledgerline/platform/httpjson"
	"github.com/ledgerline/ledgerline/services/ingest/registry"
	"github.com/ledgerline/ledgerline/services/ingest/store"
)

// SchemaRegistration is the body of POST /v1/schemas.
type SchemaRegistration struct {
	Type    string          `json:"type"`
	Version int             `json:"version"`
	Schema  json.RawMessage `json:"schema"`
}

// RegisterSchema checks, stores and activates a new event schema version. It
// reports created=false when the same document was registered already.
func (s *Service) RegisterSchema(ctx context.Context, by string, r SchemaRegistration) (bool, error) {
	switch {
	case !registry.TypePattern.MatchString(r.Type) || len(r.Type) > 64:
		return false, fmt.Errorf("type: %q is not an event type (lower-case words separated by dots, e.g. \"loan.balance\"): %w", r.Type, httpjson.ErrInvalid)
	case r.Type == envelope.TypeVoid:
		return false, fmt.Errorf("type: %q is reserved: %w", r.Type, httpjson.ErrInvalid)
	case r.Version < 1:
		return false, fmt.Errorf("version: must be a positive integer, got %d: %w", r.Version, httpjson.ErrInvalid)
	case len(r.Schema) == 0:
		return false, fmt.Errorf("schema: missing: %w", httpjson.ErrInvalid)
	}
	k := registry.Key{Type: r.Type, Version: r.Version}
	if b, ok := s.reg.Builtin(k); ok {
		if jsonEqual(b, r.Schema) {
			return false, nil
		}
		return false, fmt.Errorf("%s ships with Ledgerline; register version %d or later: %w", k, r.Version+1, httpjson.ErrConflict)
	}
	sch, err := s.reg.Compile(k, r.Schema)
	if err != nil {
		return false, fmt.Errorf("schema: %w: %w", err, httpjson.ErrInvalid)
	}
	created, err := s.store.RegisterSchema(ctx, r.Type, r.Version, r.Schema, by)
	if err != nil {
		return false, err
	}
	s.reg.Add(k, sch)
	return created, nil
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// Schemas lists the built-in and registered schemas.
func (s *Service) Schemas(ctx context.Context) ([]store.SchemaInfo, error) {
	registered, err := s.store.Schemas(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.SchemaInfo
	for _, k := range s.reg.BuiltinKeys() {
		out = append(out, store.SchemaInfo{Type: k.Type, Version: k.Version, Builtin: true})
	}
	out = append(out, registered...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// Schema returns one schema document.
func (s *Service) Schema(ctx context.Context, typ string, version int) (json.RawMessage, error) {
	if b, ok := s.reg.Builtin(registry.Key{Type: typ, Version: version}); ok {
		return b, nil
	}
	doc, _, err := s.store.Schema(ctx, typ, version)
	if err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, fmt.Errorf("schema %s v%d: %w", typ, version, httpjson.ErrNotFound)
	}
	return doc, nil
}
