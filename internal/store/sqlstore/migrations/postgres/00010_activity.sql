-- Activity: what happened on a user's account, per app (sign-ins,
-- consents, tokens issued, refreshes, revocations), for the account page;
-- kept for the configured retention. Written in batches.

-- +goose Up
CREATE TABLE activity (
    user_id   TEXT        NOT NULL,
    client_id TEXT        NOT NULL,
    kind      TEXT        NOT NULL,
    device    TEXT        NOT NULL,
    address   TEXT        NOT NULL,
    detail    TEXT        NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX activity_user ON activity (user_id, at);
CREATE INDEX activity_at ON activity (at);

-- +goose Down
DROP TABLE activity;
