-- Lineage reads a cell's contributions newest first, a page at a time, and for a
-- stock figure keeps a row only when no later live row of the same subject
-- exists: an index by (figure, seq) for the pages of a whole figure, one by
-- (figure, dimension set, seq) for the pages of a cell's filter (a counterparty's
-- rows among a million), and one by (figure, subject, business time, seq) for
-- that probe. They replace the indexes by (figure, occurred_at) and by seq
-- alone. "What did this event contribute" goes by (figure, seq) for each figure
-- key.
CREATE INDEX contributions_figure_seq ON contributions (figure_id, seq);
CREATE INDEX contributions_dims ON contributions (figure_id, dim_set, seq);
CREATE INDEX contributions_subject ON contributions (figure_id, subject, occurred_at, seq);
DROP INDEX contributions_figure;
DROP INDEX contributions_seq;
