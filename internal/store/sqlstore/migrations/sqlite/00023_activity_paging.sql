-- Activity paged by the admin API: by user or by client, newest first,
-- keyset on (at, rowid) so a page never repeats or skips an entry written
-- between two requests. SQLite's rowid is the entries' stable id.

-- +goose Up
CREATE INDEX activity_client ON activity (client_id, at);

-- +goose Down
DROP INDEX activity_client;
