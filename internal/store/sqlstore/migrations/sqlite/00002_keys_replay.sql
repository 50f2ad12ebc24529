-- Signing keys and the replay cache, for SQLite.
--
-- Conventions as in 00001: times are INTEGER unix microseconds (UTC),
-- NULL for "not set"; tables are STRICT.

-- +goose Up

-- The private key is sealed by the server before it reaches the store;
-- public_jwk is the public JWK as JSON. Both are bytes, kept exactly.
CREATE TABLE signing_keys (
    id         TEXT NOT NULL PRIMARY KEY,
    algorithm  TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    public_jwk BLOB NOT NULL,
    created_at INTEGER,
    active_at  INTEGER,
    retire_at  INTEGER
) STRICT;

-- One-time identifiers (scope, id), each remembered until expires_at. A
-- record is always given an expiry, so that every row can be purged.
CREATE TABLE replay (
    scope      TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (scope, id)
) STRICT;
CREATE INDEX replay_expires ON replay (expires_at);

-- +goose Down
DROP TABLE replay;
DROP TABLE signing_keys;
