-- Sessions of the web console (docs/console.md). A person logs in once with an
-- API key; the browser then carries only a random session id, in an HttpOnly,
-- SameSite=Strict cookie. As with API keys, only the SHA-256 of the id is
-- stored. A session acts as the key it was opened with, with that key's roles
-- read on every request, so revoking the key ends its sessions at once. It ends
-- at logout (the row is deleted), after its idle limit without a request, or at
-- expires_at, whichever comes first; expired rows are deleted at the next login.
-- csrf_token is the session's anti-forgery token, which every form posts back.
CREATE TABLE console_sessions (
    id_hash    bytea PRIMARY KEY,
    key_id     bigint NOT NULL REFERENCES api_keys (id),
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
