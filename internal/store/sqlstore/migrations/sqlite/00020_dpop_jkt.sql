-- dpop_jkt (RFC 9449 §10): an authorization request may name the key its
-- code will be redeemed with; the pending request and the code keep that
-- JWK thumbprint, and the token request's DPoP proof must be of that key.
-- Empty: the code is not bound.

-- +goose Up
ALTER TABLE auth_requests ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE codes DROP COLUMN dpop_jkt;
ALTER TABLE auth_requests DROP COLUMN dpop_jkt;
