-- The janitor (PurgeExpired) deletes expired rows in small batches; these
-- indexes make each of its statements a range scan of an index instead of
-- a scan of the table. Tokens, codes and device codes are walked in
-- (expires_at, hash) order, a window at a time, so their index carries the
-- hash too; sessions are deleted oldest first. The other tables it purges
-- have theirs already: auth_requests_expires (00006), replay_expires
-- (00002), activity_at (00010). Only indexes are added: nodes of an older
-- version keep working on the migrated schema.

-- +goose Up
CREATE INDEX tokens_expires ON tokens (expires_at, hash);
CREATE INDEX codes_expires ON codes (expires_at, hash);
CREATE INDEX device_codes_expires_hash ON device_codes (expires_at, hash);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- +goose Down
DROP INDEX sessions_expires;
DROP INDEX device_codes_expires_hash;
DROP INDEX codes_expires;
DROP INDEX tokens_expires;
