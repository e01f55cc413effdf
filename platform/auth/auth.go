// Package auth is API keys and roles. A key is "ll_" plus 32 random bytes in
// base32; only its SHA-256 is stored (a 256-bit random secret needs no slow hash).
// Requests carry it as "Authorization: Bearer <key>"; a missing or unknown key gets
// 401, a key without the endpoint's role gets 403. The role "admin" may call anything.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/platform/audit"
	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// Role is what a key may do.
type Role string

// The roles of DESIGN.md.
const (
	RoleSource     Role = "source"
	RoleRuleAuthor Role = "rule-author"
	RoleCompliance Role = "compliance"
	RoleOperator   Role = "operator"
	RoleAuditor    Role = "auditor"
	RoleAdmin      Role = "admin"
)

// Roles lists every role.
var Roles = []Role{RoleSource, RoleRuleAuthor, RoleCompliance, RoleOperator, RoleAuditor, RoleAdmin}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(s))
	if slices.Contains(Roles, r) {
		return r, nil
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown role %q: want one of %s", s, strings.Join(names, ", "))
}

// Principal is the caller behind a key.
type Principal struct {
	KeyID int64
	Name  string
	Roles []Role
}

// Has reports whether p holds one of roles (admin holds all).
func (p Principal) Has(roles ...Role) bool {
	for _, r := range p.Roles {
		if r == RoleAdmin || slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// Actor is how p is named in the audit log.
func (p Principal) Actor() string { return fmt.Sprintf("key:%s#%d", p.Name, p.KeyID) }

type ctxKey struct{}

// FromContext returns the authenticated caller.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// Keys stores and checks API keys.
type Keys struct {
	pool *pgxpool.Pool
	ttl  time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	p   Principal
	ok  bool
	exp time.Time
}

// NewKeys checks keys against the api_keys table, remembering answers for a few
// seconds so a busy source does not cost a query per request; a revoked key stops
// working within that time.
func NewKeys(pool *pgxpool.Pool) *Keys {
	return &Keys{pool: pool, ttl: 5 * time.Second, cache: map[[32]byte]cached{}}
}

// Create makes a key with roles, records it in the audit log and returns the secret,
// which is shown once and never stored.
func (k *Keys) Create(ctx context.Context, name string, roles []Role, createdBy string) (string, Principal, error) {
	if strings.TrimSpace(name) == "" {
		return "", Principal{}, fmt.Errorf("key name is empty: %w", httpjson.ErrInvalid)
	}
	if len(roles) == 0 {
		return "", Principal{}, fmt.Errorf("a key needs at least one role: %w", httpjson.ErrInvalid)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", Principal{}, err
	}
	secret := "ll_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	sum := sha256.Sum256([]byte(secret))
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	p := Principal{Name: name, Roles: roles}
	err := pgx.BeginFunc(ctx, k.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx,
			`INSERT INTO api_keys (name, roles, key_hash, key_prefix, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			name, names, sum[:], secret[:7], createdBy).Scan(&p.KeyID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, createdBy, "keys.create", fmt.Sprintf("key:%s#%d", name, p.KeyID),
			map[string]any{"roles": names})
	})
	if err != nil {
		return "", Principal{}, fmt.Errorf("create key %s: %w", name, err)
	}
	return secret, p, nil
}

// Revoke disables a key by id.
func (k *Keys) Revoke(ctx context.Context, id int64, by string) error {
	return pgx.BeginFunc(ctx, k.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("key #%d: %w", id, httpjson.ErrNotFound)
		}
		return audit.Record(ctx, tx, by, "keys.revoke", fmt.Sprintf("key#%d", id), nil)
	})
}

// KeyInfo describes a stored key (never its secret).
type KeyInfo struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Roles     []string   `json:"roles"`
	Prefix    string     `json:"prefix"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// List returns every key.
func (k *Keys) List(ctx context.Context) ([]KeyInfo, error) {
	rows, err := k.pool.Query(ctx, `SELECT id, name, roles, key_prefix, created_at, revoked_at FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyInfo, error) {
		var ki KeyInfo
		err := r.Scan(&ki.ID, &ki.Name, &ki.Roles, &ki.Prefix, &ki.CreatedAt, &ki.RevokedAt)
		return ki, err
	})
}

// ErrUnknownKey means the key is not (or no longer) valid.
var ErrUnknownKey = errors.New("unknown or revoked API key")

// Authenticate resolves a secret to its principal.
func (k *Keys) Authenticate(ctx context.Context, secret string) (Principal, error) {
	sum := sha256.Sum256([]byte(secret))
	now := time.Now()
	k.mu.Lock()
	c, hit := k.cache[sum]
	k.mu.Unlock()
	if hit && now.Before(c.exp) {
		if !c.ok {
			return Principal{}, ErrUnknownKey
		}
		return c.p, nil
	}
	var (
		p     Principal
		roles []string
	)
	err := k.pool.QueryRow(ctx, `SELECT id, name, roles FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, sum[:]).
		Scan(&p.KeyID, &p.Name, &roles)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, fmt.Errorf("check API key: %w", err)
	}
	for _, r := range roles {
		p.Roles = append(p.Roles, Role(r))
	}
	ok := err == nil
	k.mu.Lock()
	if len(k.cache) > 10000 {
		clear(k.cache)
	}
	k.cache[sum] = cached{p: p, ok: ok, exp: now.Add(k.ttl)}
	k.mu.Unlock()
	if !ok {
		return Principal{}, ErrUnknownKey
	}
	return p, nil
}

// Require wraps h so only keys holding one of roles reach it.
func (k *Keys) Require(h http.Handler, roles ...Role) http.Handler {
	want := make([]string, len(roles))
	for i, r := range roles {
		want[i] = string(r)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ledgerline"`)
			httpjson.WriteError(w, http.StatusUnauthorized, "unauthorized", "missing API key: send Authorization: Bearer <key>", nil)
			return
		}
		p, err := k.Authenticate(r.Context(), strings.TrimSpace(secret))
		if errors.Is(err, ErrUnknownKey) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ledgerline"`)
			httpjson.WriteError(w, http.StatusUnauthorized, "unauthorized", err.Error(), nil)
			return
		}
		if err != nil {
			httpjson.WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
			return
		}
		if !p.Has(roles...) {
			httpjson.WriteError(w, http.StatusForbidden, "forbidden",
				fmt.Sprintf("key %q lacks the role for %s %s (needs one of: %s)", p.Name, r.Method, r.URL.Path, strings.Join(want, ", ")), nil)
			return
		}
		h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}
