-- Rate-limit counters shared by the nodes of one deployment (failed
-- sign-ins and client authentications), synced in batches.

-- +goose Up
CREATE TABLE counters (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX counters_updated ON counters (scope, updated_at);

-- +goose Down
DROP TABLE counters;
