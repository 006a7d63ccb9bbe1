-- Rate limits per key, user and team (issue 14), counted across instances. A NULL limit is no
-- limit. A key's own credentials.rate_limit_rpm still applies (the tighter of the two wins).
CREATE TABLE rate_limits (
    scope_type TEXT NOT NULL, -- 'key' | 'user' | 'team'
    scope_id TEXT NOT NULL,
    rpm BIGINT,
    tpm BIGINT,
    max_streams BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (scope_type, scope_id)
);

-- One row per open stream and limited scope: the concurrency count of a name
-- ('streams:user:<id>') is its unexpired rows. expires_at is Unix milliseconds; a crashed
-- instance's leases run out on their own.
CREATE TABLE stream_leases (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX stream_leases_name ON stream_leases (name, expires_at);

-- rate_counters now counts any named window: key_id holds 'rpm:key:<id>', 'tpm:team:<id>', …
