-- Per-client access-token format and client authentication, for PostgreSQL.
--
-- Empty text means the server default, as for existing clients.

-- +goose Up
ALTER TABLE clients ADD COLUMN access_token_format        TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks                       TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri                   TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN jwks_uri;
ALTER TABLE clients DROP COLUMN jwks;
ALTER TABLE clients DROP COLUMN token_endpoint_auth_method;
ALTER TABLE clients DROP COLUMN access_token_format;
