-- A client registered with dpop_bound_access_tokens (RFC 9449 §5.2) must
-- send a DPoP proof with every token request: its tokens are never bearer
-- tokens.

-- +goose Up
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE clients DROP COLUMN dpop_bound_access_tokens;
