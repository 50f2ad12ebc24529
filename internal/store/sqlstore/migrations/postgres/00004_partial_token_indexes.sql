-- Tokens without a family, grant or user (client-credentials tokens, revoked
-- JWT ids) no longer add entries to those three indexes: each such token
-- costs three fewer index writes. Lookups by equality still use them, since
-- "column = value" implies "column IS NOT NULL".

-- +goose Up
DROP INDEX tokens_family;
DROP INDEX tokens_grant;
DROP INDEX tokens_user;
CREATE INDEX tokens_family ON tokens (family_id) WHERE family_id IS NOT NULL;
CREATE INDEX tokens_grant ON tokens (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX tokens_user ON tokens (user_id) WHERE user_id IS NOT NULL;

-- +goose Down
DROP INDEX tokens_family;
DROP INDEX tokens_grant;
DROP INDEX tokens_user;
CREATE INDEX tokens_family ON tokens (family_id);
CREATE INDEX tokens_grant ON tokens (grant_id);
CREATE INDEX tokens_user ON tokens (user_id);
