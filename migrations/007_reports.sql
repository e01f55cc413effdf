-- Report templates: every onboarded version, immutable, with its YAML source and
-- the regulator's layout workbook. status is validated (checked, dry-run rendered)
-- or approved (by a compliance key other than the maker's); the active version is
-- the latest approved one.
CREATE TABLE templates (
    id            text NOT NULL,
    version       int NOT NULL CHECK (version > 0),
    name          text NOT NULL,
    source        text NOT NULL,
    layout        bytea,
    layout_sha256 text,
    status        text NOT NULL CHECK (status IN ('validated', 'approved')),
    made_by       text NOT NULL,
    made_by_key   bigint NOT NULL,
    made_at       timestamptz NOT NULL DEFAULT now(),
    approved_by   text,
    approved_at   timestamptz,
    PRIMARY KEY (id, version),
    CHECK ((status = 'approved') = (approved_by IS NOT NULL))
);

-- Versions are immutable: only the approval may be recorded, once.
CREATE FUNCTION templates_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.source IS DISTINCT FROM OLD.source OR NEW.layout IS DISTINCT FROM OLD.layout
       OR NEW.made_by IS DISTINCT FROM OLD.made_by OR OLD.status = 'approved' THEN
        RAISE EXCEPTION 'template versions are immutable' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER templates_immutable BEFORE UPDATE OR DELETE ON templates
    FOR EACH ROW EXECUTE FUNCTION templates_immutable();

-- Filings: one (template version, period) run at a watermark. An amendment
-- (restatement) references the filing it amends; an original is unique per
-- (template version, period).
CREATE TABLE filings (
    id               text PRIMARY KEY,
    template         text NOT NULL,
    template_version int NOT NULL,
    period           text NOT NULL,
    as_of_seq        bigint NOT NULL,
    currency         text NOT NULL,
    rule_versions    jsonb NOT NULL,     -- {"ruleset": version} of every figure used
    report           jsonb NOT NULL,     -- the computed report (cells, tables, validations)
    validations_ok   boolean NOT NULL,   -- every error-severity validation passed
    sign_off         boolean NOT NULL,   -- the template requires a sign-off
    signed_off_by    text,
    signed_off_at    timestamptz,
    override_reason  text,
    override_by      text,
    override_at      timestamptz,
    created_by       text NOT NULL,
    created_by_key   bigint NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    amends           text REFERENCES filings (id),
    FOREIGN KEY (template, template_version) REFERENCES templates (id, version)
);
CREATE UNIQUE INDEX filings_original ON filings (template, template_version, period) WHERE amends IS NULL;
CREATE INDEX filings_template ON filings (template, period);

-- Every reported amount: cells and table rows, the lineage keys of a filing.
CREATE TABLE filing_cells (
    filing_id  text NOT NULL REFERENCES filings (id),
    code       text NOT NULL,            -- the cell code, or the table code for a table row
    row_n      int NOT NULL DEFAULT 0,   -- 0 for a cell; 1.. for a table's rows
    sheet      text NOT NULL,
    at         text NOT NULL,            -- where the value is in the workbook
    figure     text NOT NULL,
    filter     jsonb NOT NULL,           -- the cell's where, or the row's dimension values
    value      numeric NOT NULL,
    PRIMARY KEY (filing_id, code, row_n)
);

-- The rendered files with their SHA-256.
CREATE TABLE filing_files (
    filing_id text NOT NULL REFERENCES filings (id),
    format    text NOT NULL,
    content   bytea NOT NULL,
    sha256    text NOT NULL,
    PRIMARY KEY (filing_id, format)
);

-- Scheduled runs: one row per (template, period) claims the run, so that with
-- several instances exactly one makes the filing.
CREATE TABLE schedule_runs (
    template   text NOT NULL,
    period     text NOT NULL,
    due_at     timestamptz NOT NULL,
    claimed_by text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    filing_id  text REFERENCES filings (id),
    error      text,
    PRIMARY KEY (template, period)
);

-- Filings and their parts are records: they are never changed or removed. Only
-- the sign-off and the override are recorded later, each once.
CREATE FUNCTION filings_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       OR (NEW.id, NEW.template, NEW.template_version, NEW.period, NEW.as_of_seq, NEW.currency, NEW.rule_versions, NEW.report,
           NEW.validations_ok, NEW.sign_off, NEW.created_by, NEW.created_by_key, NEW.created_at, NEW.amends)
          IS DISTINCT FROM
          (OLD.id, OLD.template, OLD.template_version, OLD.period, OLD.as_of_seq, OLD.currency, OLD.rule_versions, OLD.report,
           OLD.validations_ok, OLD.sign_off, OLD.created_by, OLD.created_by_key, OLD.created_at, OLD.amends)
       OR (OLD.signed_off_by IS NOT NULL AND (NEW.signed_off_by, NEW.signed_off_at) IS DISTINCT FROM (OLD.signed_off_by, OLD.signed_off_at))
       OR (OLD.override_by IS NOT NULL AND (NEW.override_by, NEW.override_reason, NEW.override_at)
           IS DISTINCT FROM (OLD.override_by, OLD.override_reason, OLD.override_at)) THEN
        RAISE EXCEPTION 'filings are immutable' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER filings_immutable BEFORE UPDATE OR DELETE ON filings
    FOR EACH ROW EXECUTE FUNCTION filings_immutable();

CREATE FUNCTION filing_parts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER filing_cells_append_only BEFORE UPDATE OR DELETE ON filing_cells
    FOR EACH ROW EXECUTE FUNCTION filing_parts_append_only();
CREATE TRIGGER filing_files_append_only BEFORE UPDATE OR DELETE ON filing_files
    FOR EACH ROW EXECUTE FUNCTION filing_parts_append_only();
CREATE TRIGGER filings_no_truncate BEFORE TRUNCATE ON filings
    FOR EACH STATEMENT EXECUTE FUNCTION filing_parts_append_only();
CREATE TRIGGER filing_cells_no_truncate BEFORE TRUNCATE ON filing_cells
    FOR EACH STATEMENT EXECUTE FUNCTION filing_parts_append_only();
CREATE TRIGGER filing_files_no_truncate BEFORE TRUNCATE ON filing_files
    FOR EACH STATEMENT EXECUTE FUNCTION filing_parts_append_only();
