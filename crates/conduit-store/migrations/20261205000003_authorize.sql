-- Authorization code + PKCE for `conduit token login` (issue 13). A `/oauth/authorize` request is a
-- command-line sign-in with three more columns: the loopback redirect_uri it answers to (set only
-- for these: NULL marks a `/auth/cli/*` sign-in), the client's state (echoed, not a secret of
-- ours), and, once the person connected, the one-time code's SHA-256 digest (the row's expires_at
-- then becomes the code's). The challenge column holds hex(SHA-256(verifier)) either way: the S256
-- challenge is the same 32 bytes in base64url.
ALTER TABLE cli_sessions ADD COLUMN redirect_uri TEXT;
ALTER TABLE cli_sessions ADD COLUMN state TEXT;
ALTER TABLE cli_sessions ADD COLUMN code_digest TEXT;
-- NULLs are distinct in a unique index on both engines.
CREATE UNIQUE INDEX cli_sessions_code ON cli_sessions (code_digest);
