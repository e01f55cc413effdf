-- Lineage reads a cell's contributions newest first, a page at a time, and for a
-- stock figure keeps a row only when no later live row of the same subject
-- exists: one index by (figure, seq) for the pages, one by (figure, subject,
-- business time, seq) for that probe. They replace the indexes by (figure,
-- occurred_at) and by seq alone, so a committed rule batch still maintains two
-- indexes. "What did this event contribute" goes by (figure, seq) for each
-- figure key.
CREATE INDEX contributions_figure_seq ON contributions (figure_id, seq);
CREATE INDEX contributions_subject ON contributions (figure_id, subject, occurred_at, seq);
DROP INDEX contributions_figure;
DROP INDEX contributions_seq;
