-- Single sign-on (issue 12), one text for SQLite and Postgres like the first migration: only TEXT
-- and BIGINT columns (booleans 0/1, times Unix seconds, lists as JSON text). Secrets are never
-- stored: state, codes, refresh tokens and CLI verifiers only as lower-case hex SHA-256 digests.

-- OpenID Connect identity providers configured through /admin/idps. Deleted ones stay (deleted = 1,
-- a new version) so that the change feed tells every instance to drop them; a name is unique among
-- the live ones.
CREATE TABLE idps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    issuer_url TEXT NOT NULL,
    audience TEXT NOT NULL,
    client_id TEXT,
    client_secret TEXT,
    auto_provision BIGINT NOT NULL,
    default_role TEXT NOT NULL,
    allowed_domains TEXT NOT NULL,
    scopes TEXT,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE UNIQUE INDEX idps_live_name ON idps (name) WHERE deleted = 0;
CREATE INDEX idps_version ON idps (version);

-- People from an identity provider are keyed on (issuer, external_subject); both NULL for local
-- users (NULLs are distinct in a unique index on both engines). idp_id names the provider that
-- provisioned them ('env' for the one from the environment, which has no row: no foreign key).
ALTER TABLE users ADD COLUMN issuer TEXT;
ALTER TABLE users ADD COLUMN external_subject TEXT;
ALTER TABLE users ADD COLUMN idp_id TEXT;
CREATE UNIQUE INDEX users_identity ON users (issuer, external_subject);

-- Pending authorization-code flows at an identity provider, found by the state's digest and
-- taken (deleted) once.
CREATE TABLE auth_flows (
    state_digest TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    idp_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    binding_digest TEXT NOT NULL,
    target TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX auth_flows_expires ON auth_flows (expires_at);

-- RFC 8628 device authorizations: status pending, approved, denied or consumed.
CREATE TABLE device_codes (
    id TEXT PRIMARY KEY,
    device_digest TEXT NOT NULL UNIQUE,
    user_code_digest TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    user_id TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    poll_interval BIGINT NOT NULL,
    last_poll_at BIGINT
);
CREATE INDEX device_codes_expires ON device_codes (expires_at);

-- Refresh-token families: one per device sign-in, ended for good at ends_at or when revoked.
CREATE TABLE refresh_families (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    revoked_at BIGINT,
    -- The change version of its revocation (0 while live): instances learn revoked families
    -- from the change feed and refuse their access tokens at once.
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX refresh_families_version ON refresh_families (version);
CREATE INDEX refresh_families_ends ON refresh_families (ends_at);

-- Every refresh token of a family, rotated on use (used_at set); a used one presented again is a
-- replay.
CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    family_id TEXT NOT NULL REFERENCES refresh_families (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Command-line sign-ins: status pending, verified, complete or consumed; the challenge is the
-- SHA-256 hex of the command line's verifier.
CREATE TABLE cli_sessions (
    id TEXT PRIMARY KEY,
    challenge TEXT NOT NULL UNIQUE,
    binding_digest TEXT NOT NULL,
    user_id TEXT REFERENCES users (id),
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX cli_sessions_expires ON cli_sessions (expires_at);

-- The keys the gateway signs its access tokens with (key material as hex), shared by instances.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_pkcs8 TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Small settings managed at run time (the managed-settings policy under name 'managed_settings'),
-- the value JSON text.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
