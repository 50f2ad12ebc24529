-- Signing keys and the replay cache, for PostgreSQL.
--
-- Conventions as in 00001: times are timestamptz, NULL for "not set";
-- text compared or ordered by the store uses COLLATE "C".

-- +goose Up

-- The private key is sealed by the server before it reaches the store;
-- public_jwk is the public JWK as JSON. Both are bytes, kept exactly.
CREATE TABLE signing_keys (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    algorithm  TEXT  NOT NULL,
    sealed     BYTEA NOT NULL,
    public_jwk BYTEA NOT NULL,
    created_at TIMESTAMPTZ,
    active_at  TIMESTAMPTZ,
    retire_at  TIMESTAMPTZ
);

-- One-time identifiers (scope, id), each remembered until expires_at. A
-- record is always given an expiry, so that every row can be purged.
CREATE TABLE replay (
    scope      TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, id)
);
CREATE INDEX replay_expires ON replay (expires_at);

-- +goose Down
DROP TABLE replay;
DROP TABLE signing_keys;
