-- Latchkey's initial schema for PostgreSQL.
--
-- Times are timestamptz, NULL for "not set". Durations are BIGINT
-- nanoseconds. String lists are JSON arrays in TEXT. Text compared or
-- ordered by the store uses COLLATE "C" (byte order), as SQLite does, so
-- both backends list rows in the same order.
-- Every reference cascades on delete: deleting a client or a user removes
-- everything issued to it.

-- +goose Up
CREATE TABLE clients (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    secret_hash       TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    public            BOOLEAN NOT NULL,
    redirect_uris     TEXT    NOT NULL,
    grant_types       TEXT    NOT NULL,
    scopes            TEXT    NOT NULL,
    code_ttl          BIGINT  NOT NULL,
    access_token_ttl  BIGINT  NOT NULL,
    refresh_token_ttl BIGINT  NOT NULL,
    created_at        TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ
);

CREATE TABLE users (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    created_at    TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ
);

CREATE TABLE grants (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    created_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX grants_user_client ON grants (user_id, client_id, created_at);
CREATE INDEX grants_client ON grants (client_id);

CREATE TABLE auth_requests (
    id                    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    browser_hash          TEXT    NOT NULL,
    client_id             TEXT COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_given    BOOLEAN NOT NULL,
    response_type         TEXT    NOT NULL,
    scopes                TEXT    NOT NULL,
    state                 TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    nonce                 TEXT    NOT NULL,
    user_id               TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    auth_time             TIMESTAMPTZ,
    created_at            TIMESTAMPTZ,
    expires_at            TIMESTAMPTZ,
    consumed_at           TIMESTAMPTZ
);
CREATE INDEX auth_requests_client ON auth_requests (client_id);
CREATE INDEX auth_requests_user ON auth_requests (user_id);

-- A code belongs to one grant and goes with it; client and user are copies.
CREATE TABLE codes (
    hash                  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    grant_id              TEXT COLLATE "C" NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id             TEXT    NOT NULL,
    user_id               TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_given    BOOLEAN NOT NULL,
    scopes                TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    nonce                 TEXT    NOT NULL,
    auth_time             TIMESTAMPTZ,
    created_at            TIMESTAMPTZ,
    expires_at            TIMESTAMPTZ,
    used_at               TIMESTAMPTZ
);
CREATE INDEX codes_grant ON codes (grant_id);

-- family_id, grant_id and user_id are NULL when absent (client credentials).
CREATE TABLE tokens (
    hash       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    family_id  TEXT COLLATE "C",
    grant_id   TEXT COLLATE "C" REFERENCES grants (id) ON DELETE CASCADE,
    client_id  TEXT COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id    TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    auth_time  TIMESTAMPTZ,
    created_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    rotated_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX tokens_family ON tokens (family_id);
CREATE INDEX tokens_grant ON tokens (grant_id);
CREATE INDEX tokens_client ON tokens (client_id);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE sessions (
    hash       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  TIMESTAMPTZ,
    created_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ
);
CREATE INDEX sessions_user ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE tokens;
DROP TABLE codes;
DROP TABLE auth_requests;
DROP TABLE grants;
DROP TABLE users;
DROP TABLE clients;
