-- For the admin API. Users may be disabled (disabled_at: a disabled user
-- cannot sign in). Activity is paged: by user or by client, newest first,
-- keyset on (at, id) so a page never repeats or skips an entry written
-- between two requests. PostgreSQL has no stable row id: id numbers the
-- entries (existing ones too).

-- +goose Up
ALTER TABLE activity ADD COLUMN id BIGSERIAL;
CREATE INDEX activity_client ON activity (client_id, at);
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE users DROP COLUMN disabled_at;
DROP INDEX activity_client;
ALTER TABLE activity DROP COLUMN id;
