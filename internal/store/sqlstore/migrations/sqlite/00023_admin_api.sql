-- For the admin API. Users may be disabled (disabled_at: a disabled user
-- cannot sign in). Activity is paged: by user or by client, newest first,
-- keyset on (at, rowid) so a page never repeats or skips an entry written
-- between two requests. SQLite's rowid is the entries' stable id.

-- +goose Up
CREATE INDEX activity_client ON activity (client_id, at);
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- +goose Down
ALTER TABLE users DROP COLUMN disabled_at;
DROP INDEX activity_client;
