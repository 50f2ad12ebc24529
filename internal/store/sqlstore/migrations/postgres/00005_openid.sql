-- OpenID Connect and single sign-on, for PostgreSQL.
--
-- Conventions as in 00001: times are timestamptz, NULL for "not set";
-- string lists are JSON arrays in TEXT; text compared or ordered by the
-- store uses COLLATE "C". New columns have defaults, so rows written before
-- this version read as they meant: no OpenID metadata, max_age absent (-1),
-- no claims request.

-- +goose Up
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri    TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN frontchannel_logout_uri   TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN initiate_login_uri        TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN logo_uri                  TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN client_uri                TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN description               TEXT    NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN first_party               BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE clients ADD COLUMN id_token_alg              TEXT    NOT NULL DEFAULT '';

ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false;

ALTER TABLE auth_requests ADD COLUMN response_mode TEXT   NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN prompt        TEXT   NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN max_age       BIGINT NOT NULL DEFAULT -1;
ALTER TABLE auth_requests ADD COLUMN login_hint    TEXT   NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN acr_values    TEXT   NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN ui_locales    TEXT   NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN claims        TEXT   NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN session_id    TEXT   NOT NULL DEFAULT '';

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
-- were last used. The volatile default gives each existing session its own
-- random sid (unrelated to its hash, which must stay secret); new sessions
-- always bring theirs, so the default is dropped at once. Existing sessions
-- were last seen when created.
ALTER TABLE sessions ADD COLUMN id TEXT COLLATE "C" NOT NULL
    DEFAULT replace(gen_random_uuid()::text, '-', '')
    CONSTRAINT sessions_id_key UNIQUE
    CONSTRAINT sessions_id_check CHECK (id <> '');
ALTER TABLE sessions ALTER COLUMN id DROP DEFAULT;
ALTER TABLE sessions ADD COLUMN last_seen_at TIMESTAMPTZ;
UPDATE sessions SET last_seen_at = created_at;

-- The clients a session signed in to, for single logout; listed in the
-- order first added (created_at, then client_id).
CREATE TABLE session_clients (
    session_hash TEXT COLLATE "C" NOT NULL REFERENCES sessions (hash) ON DELETE CASCADE,
    client_id    TEXT COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ,
    PRIMARY KEY (session_hash, client_id)
);
CREATE INDEX session_clients_client ON session_clients (client_id);

-- +goose Down
DROP TABLE session_clients;

ALTER TABLE sessions DROP COLUMN last_seen_at;
ALTER TABLE sessions DROP COLUMN id;

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
