-- Pushed authorization requests (RFC 9126): a client pushes the parameters
-- of an authorization request and gets a request_uri, which the browser
-- brings to /authorize once, before it expires (a minute by default). The
-- row is keyed by the SHA-256 of the request_uri's random part, never the
-- value itself, as codes are; used_at marks the single use. A client may
-- be registered to require them (RFC 9126 §6).

-- +goose Up
CREATE TABLE pushed_requests (
    hash       TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    params     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX pushed_requests_client ON pushed_requests (client_id);
CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests INTEGER NOT NULL DEFAULT 0
    CHECK (require_pushed_authorization_requests IN (0, 1));

-- +goose Down
ALTER TABLE clients DROP COLUMN require_pushed_authorization_requests;
DROP TABLE pushed_requests;
