-- OpenID Connect and single sign-on, for SQLite.
--
-- Conventions as in 00001: times are INTEGER unix microseconds (UTC), NULL
-- for "not set"; string lists are JSON arrays in TEXT; tables are STRICT.
-- New columns have defaults, so rows written before this version read as
-- they meant: no OpenID metadata, max_age absent (-1), no claims request.

-- +goose Up
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri    TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN frontchannel_logout_uri   TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN initiate_login_uri        TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN logo_uri                  TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN client_uri                TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN description               TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN first_party               INTEGER NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1));
ALTER TABLE clients ADD COLUMN id_token_alg              TEXT    NOT NULL DEFAULT '';

ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1));

ALTER TABLE auth_requests ADD COLUMN response_mode TEXT    NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN prompt        TEXT    NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN max_age       INTEGER NOT NULL DEFAULT -1;
ALTER TABLE auth_requests ADD COLUMN login_hint    TEXT    NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN acr_values    TEXT    NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN ui_locales    TEXT    NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN claims        TEXT    NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN session_id    TEXT    NOT NULL DEFAULT '';

ALTER TABLE codes ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE codes ADD COLUMN acr        TEXT NOT NULL DEFAULT '';
ALTER TABLE codes ADD COLUMN claims     TEXT NOT NULL DEFAULT '';

ALTER TABLE tokens ADD COLUMN claims TEXT NOT NULL DEFAULT '';

-- Single logout revokes a user's refresh tokens for some clients: the
-- user's index gains the client as a second column. It serves lookups by
-- user alone as before, at the same number of index writes per token.
DROP INDEX tokens_user;
CREATE INDEX tokens_user_client ON tokens (user_id, client_id) WHERE user_id IS NOT NULL;

-- Sessions gain their public sid (unique, never empty) and the time they
-- were last used. SQLite cannot add a UNIQUE or CHECK column to a table
-- that has rows, so the table is rebuilt; existing sessions get a random
-- sid (unrelated to their hash, which must stay secret) and were last seen
-- when created. Nothing refers to sessions yet, so dropping it is safe.
CREATE TABLE sessions_new (
    hash         TEXT NOT NULL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE CHECK (id <> ''),
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time    INTEGER,
    created_at   INTEGER,
    expires_at   INTEGER,
    last_seen_at INTEGER
) STRICT;
INSERT INTO sessions_new (hash, id, user_id, auth_time, created_at, expires_at, last_seen_at)
    SELECT hash, lower(hex(randomblob(16))), user_id, auth_time, created_at, expires_at, created_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);

-- The clients a session signed in to, for single logout; listed in the
-- order first added (created_at, then client_id).
CREATE TABLE session_clients (
    session_hash TEXT NOT NULL REFERENCES sessions (hash) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    created_at   INTEGER,
    PRIMARY KEY (session_hash, client_id)
) STRICT;
CREATE INDEX session_clients_client ON session_clients (client_id);

-- +goose Down
DROP TABLE session_clients;

CREATE TABLE sessions_old (
    hash       TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  INTEGER,
    created_at INTEGER,
    expires_at INTEGER
) STRICT;
INSERT INTO sessions_old (hash, user_id, auth_time, created_at, expires_at)
    SELECT hash, user_id, auth_time, created_at, expires_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_old RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);

DROP INDEX tokens_user_client;
CREATE INDEX tokens_user ON tokens (user_id) WHERE user_id IS NOT NULL;

ALTER TABLE tokens DROP COLUMN claims;

ALTER TABLE codes DROP COLUMN claims;
ALTER TABLE codes DROP COLUMN acr;
ALTER TABLE codes DROP COLUMN session_id;

ALTER TABLE auth_requests DROP COLUMN session_id;
ALTER TABLE auth_requests DROP COLUMN claims;
ALTER TABLE auth_requests DROP COLUMN ui_locales;
ALTER TABLE auth_requests DROP COLUMN acr_values;
ALTER TABLE auth_requests DROP COLUMN login_hint;
ALTER TABLE auth_requests DROP COLUMN max_age;
ALTER TABLE auth_requests DROP COLUMN prompt;
ALTER TABLE auth_requests DROP COLUMN response_mode;

ALTER TABLE users DROP COLUMN email_verified;

ALTER TABLE clients DROP COLUMN id_token_alg;
ALTER TABLE clients DROP COLUMN first_party;
ALTER TABLE clients DROP COLUMN description;
ALTER TABLE clients DROP COLUMN client_uri;
ALTER TABLE clients DROP COLUMN logo_uri;
ALTER TABLE clients DROP COLUMN initiate_login_uri;
ALTER TABLE clients DROP COLUMN frontchannel_logout_uri;
ALTER TABLE clients DROP COLUMN backchannel_logout_uri;
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
