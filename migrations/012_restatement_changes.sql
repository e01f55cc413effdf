-- The cell-by-cell difference of a restatement, as Restate computed it: for
-- each amount of the amended filing that differs from the original (a cell, a
-- table row matched by its dimension values, or a row that is gone), the late
-- events that changed it. Restate writes it once with the amended filing; the
-- web console's difference page reads it instead of tracing every changed
-- amount again over all contributions. A record like the filing's own parts:
-- never changed or removed.
CREATE TABLE restatement_changes (
    filing_id  text NOT NULL REFERENCES filings (id),  -- the amended filing
    amount_key text NOT NULL,   -- the cell code, or the table code and the row's dimension values
    events     jsonb NOT NULL,  -- [{"id", "seq", "type", "effect"}], by seq
    PRIMARY KEY (filing_id, amount_key)
);
CREATE TRIGGER restatement_changes_append_only BEFORE UPDATE OR DELETE ON restatement_changes
    FOR EACH ROW EXECUTE FUNCTION filing_parts_append_only();
CREATE TRIGGER restatement_changes_no_truncate BEFORE TRUNCATE ON restatement_changes
    FOR EACH STATEMENT EXECUTE FUNCTION filing_parts_append_only();
