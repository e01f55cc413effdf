-- Contributions are appended in about seq order (a rule worker commits its
-- partition's batches in order; a backfill appends its own run of seqs), so a
-- BRIN index answers "what did the event at seq S contribute" from a few small
-- block ranges, for a fraction of what keeping a B-tree costs on every row
-- written: it is updated once per block range, not once per row.
DROP INDEX contributions_seq;
CREATE INDEX contributions_seq ON contributions USING brin (seq) WITH (pages_per_range = 16);
