-- The contributions behind each filed figure, written once when the filing is
-- built (the figure query computes them anyway): a filing's lineage pages read
-- these few rows instead of recomputing a figure over every contribution, and
-- the rule workers keep paying for two indexes only. Rows are copied, not
-- referenced, so lineage reads the same during a projections rebuild. They are
-- keyed by the watermark too: a build that failed after storing them, and was
-- made again later at another watermark, leaves rows that are never read.
CREATE TABLE lineage_rows (
    filing_id   text NOT NULL,
    figure_id   int NOT NULL,         -- ruleset_figures.id
    as_of_seq   bigint NOT NULL,      -- the filing's watermark
    seq         bigint NOT NULL,
    dim_set     int NOT NULL,
    value       numeric NOT NULL,
    currency    text,
    event_id    text NOT NULL,
    subject     text NOT NULL,
    occurred_at timestamptz NOT NULL,
    adj_period  text,
    PRIMARY KEY (filing_id, figure_id, as_of_seq, seq)
);
CREATE INDEX lineage_rows_dims ON lineage_rows (filing_id, figure_id, as_of_seq, dim_set, seq);

CREATE TRIGGER lineage_rows_append_only BEFORE UPDATE OR DELETE ON lineage_rows
    FOR EACH ROW EXECUTE FUNCTION filing_parts_append_only();
CREATE TRIGGER lineage_rows_no_truncate BEFORE TRUNCATE ON lineage_rows
    FOR EACH STATEMENT EXECUTE FUNCTION filing_parts_append_only();

-- Which figures of a filing have their lineage stored: it is stored just after
-- the filing (off the filing's critical path); until then, and if a crash
-- interrupted it, lineage computes the rows from the contributions at the
-- filing's watermark, which gives the same rows.
CREATE TABLE lineage_done (
    filing_id text NOT NULL,
    figure_id int NOT NULL,
    as_of_seq bigint NOT NULL,
    PRIMARY KEY (filing_id, figure_id, as_of_seq)
);
