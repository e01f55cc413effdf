package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ledgerline/ledgerline/platform/audit"
	"github.com/ledgerline/ledgerline/platform/auth"
	"github.com/ledgerline/ledgerline/platform/httpjson"
)

// The cookies of the console. The session cookie holds a random session id;
// the login cookie holds the anti-forgery token of the login form, which has
// no session yet (double submit: the form posts it back).
const (
	sessionCookie = "ledgerline_session"
	loginCookie   = "ledgerline_login"
)

// session is the caller of a page: ok is false when the request has no
// (live) session.
type session struct {
	ok        bool
	principal auth.Principal
	csrf      string
	expires   time.Time
}

// sessions are the console's sessions in PostgreSQL.
type sessions struct {
	pool *pgxpool.Pool
	ttl  time.Duration
	idle time.Duration
}

// token is 32 random bytes, URL-safe.
func token() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// open starts a session for p and answers its id and anti-forgery token.
// Expired sessions are deleted first.
func (s *sessions) open(ctx context.Context, p auth.Principal) (id string, csrf string, err error) {
	id, csrf = token(), token()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at < now() OR last_seen < now() - $1::interval`,
			interval(s.idle)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO console_sessions (id_hash, key_id, csrf_token, expires_at)
			VALUES ($1, $2, $3, now() + $4::interval)`, hashID(id), p.KeyID, csrf, interval(s.ttl)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, p.Actor(), "console.login", p.Actor(), map[string]any{"expires_in": s.ttl.String()})
	})
	if err != nil {
		return "", "", fmt.Errorf("open a console session: %w: %w", err, httpjson.ErrUnavailable)
	}
	return id, csrf, nil
}

func interval(d time.Duration) string { return fmt.Sprintf("%d milliseconds", d.Milliseconds()) }

// current is the session of the request's cookie: one query, which also reads
// the key's roles now (a revoked key has no session). last_seen moves at most
// once a minute, so pages cost no write each.
func (s *sessions) current(r *http.Request) (session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, nil
	}
	var (
		out   session
		roles []string
		stale bool
	)
	err = s.pool.QueryRow(r.Context(), `SELECT k.id, k.name, k.roles, s.csrf_token, s.expires_at, s.last_seen < now() - interval '1 minute'
		FROM console_sessions s JOIN api_keys k ON k.id = s.key_id
		WHERE s.id_hash = $1 AND k.revoked_at IS NULL AND s.expires_at > now() AND s.last_seen > now() - $2::interval`,
		hashID(c.Value), interval(s.idle)).Scan(&out.principal.KeyID, &out.principal.Name, &roles, &out.csrf, &out.expires, &stale)
	if errors.Is(err, pgx.ErrNoRows) {
		return session{}, nil
	}
	if err != nil {
		return session{}, fmt.Errorf("read the console session: %w: %w", err, httpjson.ErrUnavailable)
	}
	for _, role := range roles {
		out.principal.Roles = append(out.principal.Roles, auth.Role(role))
	}
	out.ok = true
	if stale {
		if _, err := s.pool.Exec(r.Context(), `UPDATE console_sessions SET last_seen = now() WHERE id_hash = $1`, hashID(c.Value)); err != nil {
			return session{}, fmt.Errorf("touch the console session: %w: %w", err, httpjson.ErrUnavailable)
		}
	}
	return out, nil
}

// close ends the session of the request's cookie.
func (s *sessions) close(ctx context.Context, r *http.Request, p auth.Principal) error {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, hashID(c.Value)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, p.Actor(), "console.logout", p.Actor(), nil)
	})
}

// secure says whether the cookies get the Secure attribute: always over TLS
// (or behind a proxy that says the client used https). Over plain HTTP a
// Secure cookie would never be sent back, so the console on a local
// http://127.0.0.1 address (the default) runs without it; docs/console.md says
// to serve it over TLS everywhere else.
func (c *Console) secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") || c.cfg.SecureCookies
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode}
	switch {
	case maxAge > 0:
		ck.MaxAge = int(maxAge.Seconds())
	case maxAge < 0:
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// checkPost refuses a POST without the session's anti-forgery token, or sent
// from another origin; it answers why ("" when it passes).
func (c *Console) checkPost(r *http.Request, s session) string {
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		u, err := url.Parse(origin)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Sprintf("The request came from another site (%s): the console accepts forms from its own pages only.", origin)
		}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 2<<20)
	if err := r.ParseForm(); err != nil {
		return "The form could not be read: " + err.Error()
	}
	got := r.PostForm.Get("csrf")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
		return "The form's anti-forgery token is missing or wrong. Reload the page and try again."
	}
	return ""
}

// safeNext is where to go after login: a path of this site, else /.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

type loginView struct {
	Token   string
	Next    string
	Problem string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, err := c.sessions.current(r); err == nil && s.ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.renderLogin(w, r, http.StatusOK, "")
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, problem string) {
	t := token()
	c.setCookie(w, r, loginCookie, t, 15*time.Minute)
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	c.render(w, r, nil, status, "login", "Log in", loginView{Token: t, Next: safeNext(next), Problem: problem})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		c.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	ck, err := r.Cookie(loginCookie)
	form := r.PostForm.Get("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(form), []byte(ck.Value)) != 1 {
		c.renderLogin(w, r, http.StatusForbidden, "The login form expired or came from another site. Enter your key again.")
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if key == "" {
		c.renderLogin(w, r, http.StatusUnauthorized, "Enter your API key.")
		return
	}
	p, err := c.cfg.Keys.Authenticate(r.Context(), key)
	if errors.Is(err, auth.ErrUnknownKey) {
		c.log.Info("console login refused: unknown or revoked key", "remote", r.RemoteAddr)
		c.renderLogin(w, r, http.StatusUnauthorized, "That key is unknown or revoked.")
		return
	}
	if err != nil {
		c.fail(w, r, nil, fmt.Errorf("%w: %w", err, httpjson.ErrUnavailable))
		return
	}
	id, _, err := c.sessions.open(r.Context(), p)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.log.Info("console login", "key", p.Actor())
	c.setCookie(w, r, loginCookie, "", -1)
	c.setCookie(w, r, sessionCookie, id, c.cfg.SessionTTL)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s session) error {
	if err := c.sessions.close(r.Context(), r, s.principal); err != nil {
		return fmt.Errorf("close the console session: %w: %w", err, httpjson.ErrUnavailable)
	}
	c.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
