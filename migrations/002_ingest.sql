-- Event schemas registered at run time (the built-in ones ship in schemas/).
-- A (type, version) is immutable once registered.
CREATE TABLE event_schemas (
    type          text NOT NULL,
    version       int NOT NULL CHECK (version > 0),
    schema        jsonb NOT NULL,
    registered_by text NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (type, version)
);

-- The event index: every event id ever accepted, with its stream sequence. It is a
-- projection of the stream (rebuildable from it) that makes duplicate detection
-- permanent, beyond JetStream's in-memory duplicate window, and answers
-- "does the superseded event exist".
CREATE TABLE event_index (
    id          text PRIMARY KEY,
    seq         bigint NOT NULL,
    type        text NOT NULL,
    subject     text NOT NULL,
    occurred_at timestamptz NOT NULL,
    supersedes  text
);
CREATE INDEX event_index_supersedes ON event_index (supersedes) WHERE supersedes IS NOT NULL;

-- How far the event index is known to be complete: every stream message with
-- seq <= indexed_through is in event_index.
CREATE TABLE event_index_watermark (
    stream          text PRIMARY KEY,
    indexed_through bigint NOT NULL
);

-- Quarantine: rejected input is kept, with the reason, until resolved or discarded.
-- raw is bytea because bad input need not even be valid UTF-8.
CREATE TABLE quarantine (
    id            bigserial PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    received_from text NOT NULL,
    channel       text NOT NULL,
    event_id      text,
    event_type    text,
    raw           bytea NOT NULL,
    raw_truncated boolean NOT NULL DEFAULT false,
    code          text NOT NULL,
    field         text NOT NULL DEFAULT '',
    reason        text NOT NULL,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'discarded')),
    resolved_at   timestamptz,
    resolved_by   text,
    resolved_seq  bigint,
    resolution    text
);
CREATE INDEX quarantine_status ON quarantine (status, id);
CREATE INDEX quarantine_event_id ON quarantine (event_id) WHERE event_id IS NOT NULL;
