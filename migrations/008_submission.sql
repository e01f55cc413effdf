-- Submissions: a filing's delivery to its regulator through a channel. The id is
-- also the idempotency key sent with every upload. A filing has one submission:
-- asking again answers the same one, and a failed one is retried in place (same
-- key), so a filing is never delivered twice. An amendment (a restated filing)
-- carries the receipt of the original it amends.
CREATE TABLE submissions (
    id              text PRIMARY KEY,
    filing_id       text NOT NULL UNIQUE REFERENCES filings (id),
    channel         text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'accepted', 'rejected', 'failed')),
    amends_receipt  text,
    receipt_id      text,
    received_at     timestamptz,
    feedback        jsonb NOT NULL DEFAULT '[]',
    attempts        int NOT NULL DEFAULT 0,        -- attempts recorded: uploads, lookups, status polls
    budget_from     int NOT NULL DEFAULT 0,        -- attempts before the last operator retry: max_attempts counts from here
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    lease_by        text,                          -- the worker holding it, until lease_until
    lease_until     timestamptz,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX submissions_due ON submissions (next_attempt_at) WHERE status IN ('pending', 'sending', 'delivered');
CREATE INDEX submissions_status ON submissions (status, created_at);

-- Every attempt with its outcome: uploads, lookups by idempotency key, status polls.
CREATE TABLE submission_attempts (
    submission_id text NOT NULL REFERENCES submissions (id),
    n             int NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    action        text NOT NULL CHECK (action IN ('deliver', 'find', 'status')),
    outcome       text NOT NULL,   -- delivered, found, not_found, received, validating, accepted, rejected, retry, failed
    error         text,
    worker        text NOT NULL,
    PRIMARY KEY (submission_id, n)
);

CREATE FUNCTION submission_attempts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'submission_attempts is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER submission_attempts_append_only BEFORE UPDATE OR DELETE ON submission_attempts
    FOR EACH ROW EXECUTE FUNCTION submission_attempts_append_only();
CREATE TRIGGER submission_attempts_no_truncate BEFORE TRUNCATE ON submission_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION submission_attempts_append_only();
