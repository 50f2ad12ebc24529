-- Expired pending authorization requests are purged as new ones are
-- written (CreateAuthRequest); the first index finds them without a scan.
-- The second finds a PKCE challenge replayed in another live request
-- (ChallengeInUse).

-- +goose Up
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);
CREATE INDEX auth_requests_challenge ON auth_requests (code_challenge) WHERE code_challenge <> '';

-- +goose Down
DROP INDEX auth_requests_challenge;
DROP INDEX auth_requests_expires;
