-- Spend (issue 14), one text for SQLite and Postgres like the first migration: only TEXT and
-- BIGINT columns (booleans 0/1). Money is integer: costs in nano-dollars, rates in micro-dollars
-- per million tokens, limits in cents.

-- The ledger: one row per request. The id (a UUID v7) is minted when the request is recorded, so
-- a retried batch inserts nothing twice (ON CONFLICT (id) DO NOTHING). Token counters are the
-- four disjoint input counters plus output, exactly as the upstream reported them.
CREATE TABLE spend (
    id TEXT PRIMARY KEY,
    -- When the request started (Unix milliseconds).
    at_ms BIGINT NOT NULL,
    user_id TEXT,
    subject TEXT,
    team_id TEXT,
    key_id TEXT,
    upstream TEXT,
    -- The client's model; upstream_model the one the upstream was asked for.
    model TEXT NOT NULL,
    upstream_model TEXT,
    path TEXT NOT NULL,
    status BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    ttft_ms BIGINT,
    input_tokens BIGINT NOT NULL,
    cache_write_5m BIGINT NOT NULL,
    cache_write_1h BIGINT NOT NULL,
    cache_read BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    -- Kiro credits x 1e6.
    credits_micros BIGINT,
    -- 1 when the counters are estimated (Kiro), else 0.
    estimated BIGINT NOT NULL,
    -- NULL: no price known for the model.
    cost_nanos BIGINT,
    -- 'list:<entry>', 'override:<upstream>/<model>', 'kiro-credit', or NULL.
    priced_by TEXT
);
CREATE INDEX spend_at ON spend (at_ms);
CREATE INDEX spend_user_at ON spend (user_id, at_ms);
CREATE INDEX spend_team_at ON spend (team_id, at_ms);
CREATE INDEX spend_key_at ON spend (key_id, at_ms);

-- Running totals per budget scope ('user:<id>', 'team:<id>', 'key:<id>', 'gateway') and period
-- window (period_start in Unix seconds; 0 for 'total'), upserted (cost_nanos += the batch's sum)
-- in the same transaction as the batch's ledger rows.
CREATE TABLE spend_totals (
    scope TEXT NOT NULL,
    period TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    PRIMARY KEY (scope, period, period_start)
);

-- Spend limits (the Admin API's `spl_…` objects), one per (scope, period). scope_id is '' for the
-- organization and the gateway; amount_cents NULL is an explicit "no cap" for that scope.
-- Times are Unix seconds.
CREATE TABLE spend_limits (
    id TEXT PRIMARY KEY,
    scope_type TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    period TEXT NOT NULL,
    amount_cents BIGINT,
    currency TEXT NOT NULL,
    is_enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (scope_type, scope_id, period)
);

-- Budget threshold notices sent: the instance whose INSERT ... ON CONFLICT DO NOTHING wrote the
-- row sends the notice, so each (limit, period window, threshold percent) notifies once.
CREATE TABLE budget_notices (
    limit_id TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    threshold BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (limit_id, period_start, threshold)
);

-- Admin price overrides per upstream ('*' = any) and model prefix, in micro-dollars per million
-- tokens; updated_at in Unix seconds.
CREATE TABLE price_overrides (
    upstream TEXT NOT NULL,
    model TEXT NOT NULL,
    input BIGINT NOT NULL,
    output BIGINT NOT NULL,
    cache_read BIGINT NOT NULL,
    write_5m BIGINT NOT NULL,
    write_1h BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (upstream, model)
);
