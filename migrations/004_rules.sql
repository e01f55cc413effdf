-- Rule sets: every onboarded version, immutable, with its source.
CREATE TABLE rulesets (
    name           text NOT NULL,
    version        int NOT NULL CHECK (version > 0),
    effective_from text NOT NULL,
    description    text NOT NULL DEFAULT '',
    source         text NOT NULL,
    onboarded_by   text NOT NULL,
    onboarded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

-- The figures each version defines; a figure name belongs to one rule set.
CREATE TABLE ruleset_figures (
    ruleset    text NOT NULL,
    version    int NOT NULL,
    figure     text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('stock', 'flow', 'cumulative', 'derived')),
    definition jsonb NOT NULL,
    PRIMARY KEY (ruleset, version, figure),
    FOREIGN KEY (ruleset, version) REFERENCES rulesets (name, version)
);
CREATE INDEX ruleset_figures_figure ON ruleset_figures (figure);

-- Contributions: the lineage grain. One row per (rule set version, figure, event)
-- whose rule matched; figures are aggregates of these computed at query time for a
-- (period, as_of_seq). adj_period is set for manual adjustments, which count for
-- exactly that period.
CREATE TABLE contributions (
    ruleset     text NOT NULL,
    version     int NOT NULL,
    figure      text NOT NULL,
    dims        jsonb NOT NULL,
    value       numeric NOT NULL,
    currency    text,
    event_id    text NOT NULL,
    seq         bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    subject     text NOT NULL,
    adj_period  text
);
CREATE INDEX contributions_figure ON contributions (figure, ruleset, version, occurred_at);
CREATE INDEX contributions_event ON contributions (event_id);

-- Which event superseded (or voided) which, and from which seq on. Written by the
-- rule consumers from the stream, so a rebuild recreates it.
CREATE TABLE supersessions (
    superseded_id text PRIMARY KEY,
    by_id         text NOT NULL,
    by_seq        bigint NOT NULL
);

-- fx.rate events, for converting figures into a reporting currency.
CREATE TABLE fx_rates (
    event_id    text PRIMARY KEY,
    seq         bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    base        text NOT NULL,
    quote       text NOT NULL,
    rate        numeric NOT NULL CHECK (rate > 0)
);
CREATE INDEX fx_rates_pair ON fx_rates (base, quote, occurred_at DESC, seq DESC);

-- A rule that failed on an event (runaway expression, bad data): recorded, and the
-- stream goes on.
CREATE TABLE rule_failures (
    ruleset  text NOT NULL,
    version  int NOT NULL,
    figure   text NOT NULL,
    field    text NOT NULL,
    event_id text NOT NULL,
    seq      bigint NOT NULL,
    error    text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rule_failures_version ON rule_failures (ruleset, version, seq);

-- How far each partition consumer of a rule set version has committed: the
-- consumer position, written in the same transaction as the rows it produced.
CREATE TABLE rule_positions (
    ruleset    text NOT NULL,
    version    int NOT NULL,
    partitions int NOT NULL,
    partition  int NOT NULL,
    seq        bigint NOT NULL,
    PRIMARY KEY (ruleset, version, partitions, partition)
);
