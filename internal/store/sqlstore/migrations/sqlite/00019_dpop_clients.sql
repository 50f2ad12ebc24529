-- A client registered with dpop_bound_access_tokens (RFC 9449 §5.2) must
-- send a DPoP proof with every token request: its tokens are never bearer
-- tokens.

-- +goose Up
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0
    CHECK (dpop_bound_access_tokens IN (0, 1));

-- +goose Down
ALTER TABLE clients DROP COLUMN dpop_bound_access_tokens;
