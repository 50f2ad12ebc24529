-- Expired pending authorization requests are purged as new ones are
-- written (CreateAuthRequest); the index finds them without a scan.

-- +goose Up
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);

-- +goose Down
DROP INDEX auth_requests_expires;
