-- The team gateway's schema, one text for SQLite and Postgres: only TEXT and BIGINT columns
-- (booleans 0/1, times Unix seconds, audit at_ms Unix milliseconds), UUID text ids.

-- The change version: bumped in the same transaction as every write to users or credentials;
-- each such row carries the version of its last write (changes_since reads rows above a version).
CREATE TABLE auth_version (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO auth_version (id, version) VALUES (1, 0);

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    email TEXT,
    role TEXT NOT NULL,
    team_id TEXT REFERENCES teams (id),
    active BIGINT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX users_version ON users (version);

-- Virtual keys (kind 'key') and sessions (kind 'session'): the SHA-256 hex digest, never the secret.
CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    user_id TEXT REFERENCES users (id),
    team_id TEXT REFERENCES teams (id),
    rate_limit_rpm BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT,
    version BIGINT NOT NULL
);
CREATE INDEX credentials_version ON credentials (version);
CREATE INDEX credentials_user ON credentials (user_id, kind);

CREATE TABLE audit (
    id TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    actor_user_id TEXT,
    ip TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at_ms, id);

-- Per-key request counts per minute window, shared by every instance (rate_limit_rpm).
CREATE TABLE rate_counters (
    key_id TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (key_id, window_start)
);
