-- Contributions carry small integer keys instead of repeating the rule set name,
-- version, figure name and dimension set on every row: a figure key and a
-- dimension-set id. Narrower rows and a narrower index are what every committed
-- rule batch pays for (measured with make bench: see bench/results.md).
--
-- Contributions, supersessions, fx rates, failures and positions are projections
-- of the event stream: they are dropped here and the rule consumers replay the
-- stream from the start into the new shape (the same as `ledgerline projections
-- rebuild`).

ALTER TABLE ruleset_figures ADD COLUMN id int GENERATED ALWAYS AS IDENTITY UNIQUE;

-- Every distinct set of dimension values a rule produced, once.
CREATE TABLE dim_sets (
    id   int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dims jsonb NOT NULL UNIQUE
);
CREATE INDEX dim_sets_dims ON dim_sets USING gin (dims jsonb_path_ops);

DROP TABLE contributions;
TRUNCATE supersessions, fx_rates, rule_failures, rule_positions;

-- Fixed-width columns first (no alignment padding).
CREATE TABLE contributions (
    seq         bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    figure_id   int NOT NULL,     -- ruleset_figures.id: rule set, version and figure
    dim_set     int NOT NULL,     -- dim_sets.id
    value       numeric NOT NULL,
    currency    text,
    event_id    text NOT NULL,
    subject     text NOT NULL,
    adj_period  text              -- set for manual adjustments: they count for exactly that period
);
CREATE INDEX contributions_figure ON contributions (figure_id, occurred_at);
CREATE INDEX contributions_seq ON contributions (seq);

-- The wide shape, for people and for lineage queries.
CREATE VIEW contribution_rows AS
SELECT f.ruleset, f.version, f.figure, d.dims, c.value, c.currency, c.event_id, c.seq,
       c.occurred_at, c.subject, c.adj_period
FROM contributions c
JOIN ruleset_figures f ON f.id = c.figure_id
JOIN dim_sets d ON d.id = c.dim_set;
