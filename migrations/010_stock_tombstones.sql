-- A stock figure counts, per subject, the latest event of the types it concerns
-- (the types its `when` can match), and only when that event matches `when`.
-- An event of such a type that `when` does not match (a security position that
-- became encumbered, a loan whose undrawn commitment is gone) is written as a
-- tombstone: a contribution row of value 0 with stops_counting true, which
-- takes the subject's place as its latest row and counts for nothing.
--
-- The flag is NULL for every other row: those rows already carry a null bitmap
-- (adj_period is NULL on them), and a tenth column fits in the same two bytes of
-- it, so an ordinary contribution is not one byte wider than before.
ALTER TABLE contributions ADD COLUMN stops_counting boolean;

CREATE OR REPLACE VIEW contribution_rows AS
SELECT f.ruleset, f.version, f.figure, d.dims, c.value, c.currency, c.event_id, c.seq,
       c.occurred_at, c.subject, c.adj_period, c.stops_counting IS NOT NULL AS stops_counting
FROM contributions c
JOIN ruleset_figures f ON f.id = c.figure_id
JOIN dim_sets d ON d.id = c.dim_set;

-- The rows written so far have no tombstones, so stock figures would keep
-- counting what a later event took out: the projections are dropped here and the
-- rule consumers replay the stream from the start (as `ledgerline projections
-- rebuild` does). Filings already made keep their stored report and lineage.
TRUNCATE contributions, supersessions, fx_rates, rule_failures, rule_positions;
