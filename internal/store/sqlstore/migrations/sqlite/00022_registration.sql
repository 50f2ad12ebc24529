-- Dynamic client registration (RFC 7591, RFC 7592).
-- self_registered: the client registered itself at /register; it is shown
-- as not verified on the consent page and expires when left unused.
-- registration_token_hash: SHA-256 of its registration access token
-- (RFC 7592 §3), '' for clients an operator created.
-- registration_metadata: the RFC 7591 §2 fields Latchkey keeps but does
-- not act on (contacts, tos_uri, software_id, ...), as a JSON object.
-- used_at: when the client last used the token endpoint or /authorize
-- (written at most once an hour), NULL before its first use.
-- registration_tokens: initial access tokens (RFC 7591 §3) that gate
-- registration, stored as SHA-256 only.

-- +goose Up
ALTER TABLE clients ADD COLUMN self_registered INTEGER NOT NULL DEFAULT 0 CHECK (self_registered IN (0, 1));
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN registration_metadata TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN used_at INTEGER;
CREATE INDEX clients_self_registered_idx ON clients (self_registered) WHERE self_registered = 1;

CREATE TABLE registration_tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER,
    expires_at INTEGER,
    max_uses INTEGER NOT NULL DEFAULT 0,
    uses INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE registration_tokens;
DROP INDEX clients_self_registered_idx;
ALTER TABLE clients DROP COLUMN used_at;
ALTER TABLE clients DROP COLUMN registration_metadata;
ALTER TABLE clients DROP COLUMN registration_token_hash;
ALTER TABLE clients DROP COLUMN self_registered;
