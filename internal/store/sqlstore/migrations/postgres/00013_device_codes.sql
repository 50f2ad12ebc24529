-- Device authorizations (RFC 8628): the device polls with its device code
-- while the user enters the user code on another screen. Both codes are
-- stored only as hashes. A row is kept after it is redeemed (used_at), and
-- purged a while after it expires. Numbered 00013: 00012 is the resource
-- indicators' migration, and both apply to any database in number order.

-- +goose Up
CREATE TABLE device_codes (
    hash           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_code_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    client_id      TEXT COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes         TEXT        NOT NULL,
    resources      TEXT        NOT NULL,
    device         TEXT        NOT NULL,
    address        TEXT        NOT NULL,
    created_at     TIMESTAMPTZ,
    expires_at     TIMESTAMPTZ NOT NULL,
    poll_interval  BIGINT      NOT NULL,
    last_poll_at   TIMESTAMPTZ,
    status         TEXT        NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    user_id        TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    grant_id       TEXT COLLATE "C" REFERENCES grants (id) ON DELETE CASCADE,
    session_id     TEXT        NOT NULL,
    auth_time      TIMESTAMPTZ,
    used_at        TIMESTAMPTZ
);
CREATE INDEX device_codes_client ON device_codes (client_id);
CREATE INDEX device_codes_user ON device_codes (user_id);
CREATE INDEX device_codes_grant ON device_codes (grant_id);
CREATE INDEX device_codes_expires ON device_codes (expires_at);

-- +goose Down
DROP TABLE device_codes;
