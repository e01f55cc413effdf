-- The event index is written for every accepted event, so it is kept narrow: what
-- answers "seen before?", "where is it?" and "may it be superseded?". Subject and
-- occurred_at are in the stream, one GetMsg(seq) away.
ALTER TABLE event_index DROP COLUMN subject, DROP COLUMN occurred_at;

-- seq is unique: one message, one event. Counting a seq range against the stream
-- tells the index catch-up whether the range is complete without reading it.
CREATE UNIQUE INDEX event_index_seq ON event_index (seq);

-- "Who supersedes X first" is answered from this index alone.
DROP INDEX event_index_supersedes;
CREATE INDEX event_index_supersedes ON event_index (supersedes, seq) WHERE supersedes IS NOT NULL;
