-- Latchkey's initial schema for SQLite.
--
-- Times are INTEGER unix microseconds (UTC), NULL for "not set". Durations
-- are INTEGER nanoseconds. String lists are JSON arrays in TEXT. Tables are
-- STRICT so that a value of the wrong type is refused, not converted.
-- Every reference cascades on delete: deleting a client or a user removes
-- everything issued to it.

-- +goose Up
CREATE TABLE clients (
    id                TEXT    NOT NULL PRIMARY KEY,
    secret_hash       TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    public            INTEGER NOT NULL CHECK (public IN (0, 1)),
    redirect_uris     TEXT    NOT NULL,
    grant_types       TEXT    NOT NULL,
    scopes            TEXT    NOT NULL,
    code_ttl          INTEGER NOT NULL,
    access_token_ttl  INTEGER NOT NULL,
    refresh_token_ttl INTEGER NOT NULL,
    created_at        INTEGER,
    updated_at        INTEGER
) STRICT;

CREATE TABLE users (
    id            TEXT NOT NULL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    created_at    INTEGER,
    updated_at    INTEGER
) STRICT;

CREATE TABLE grants (
    id         TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    created_at INTEGER,
    expires_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX grants_user_client ON grants (user_id, client_id, created_at);
CREATE INDEX grants_client ON grants (client_id);

CREATE TABLE auth_requests (
    id                    TEXT    NOT NULL PRIMARY KEY,
    browser_hash          TEXT    NOT NULL,
    client_id             TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_given    INTEGER NOT NULL CHECK (redirect_uri_given IN (0, 1)),
    response_type         TEXT    NOT NULL,
    scopes                TEXT    NOT NULL,
    state                 TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    nonce                 TEXT    NOT NULL,
    user_id               TEXT    REFERENCES users (id) ON DELETE CASCADE,
    auth_time             INTEGER,
    created_at            INTEGER,
    expires_at            INTEGER,
    consumed_at           INTEGER
) STRICT;
CREATE INDEX auth_requests_client ON auth_requests (client_id);
CREATE INDEX auth_requests_user ON auth_requests (user_id);

-- A code belongs to one grant and goes with it; client and user are copies.
CREATE TABLE codes (
    hash                  TEXT    NOT NULL PRIMARY KEY,
    grant_id              TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id             TEXT    NOT NULL,
    user_id               TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_given    INTEGER NOT NULL CHECK (redirect_uri_given IN (0, 1)),
    scopes                TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    nonce                 TEXT    NOT NULL,
    auth_time             INTEGER,
    created_at            INTEGER,
    expires_at            INTEGER,
    used_at               INTEGER
) STRICT;
CREATE INDEX codes_grant ON codes (grant_id);

-- family_id, grant_id and user_id are NULL when absent (client credentials).
CREATE TABLE tokens (
    hash       TEXT NOT NULL PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    family_id  TEXT,
    grant_id   TEXT REFERENCES grants (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    auth_time  INTEGER,
    created_at INTEGER,
    expires_at INTEGER,
    rotated_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX tokens_family ON tokens (family_id);
CREATE INDEX tokens_grant ON tokens (grant_id);
CREATE INDEX tokens_client ON tokens (client_id);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE sessions (
    hash       TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  INTEGER,
    created_at INTEGER,
    expires_at INTEGER
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE tokens;
DROP TABLE codes;
DROP TABLE auth_requests;
DROP TABLE grants;
DROP TABLE users;
DROP TABLE clients;
