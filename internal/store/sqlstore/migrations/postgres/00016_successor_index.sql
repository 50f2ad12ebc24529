-- The janitor clears the sealed successor of a refresh token once its
-- rotation is older than any reuse grace (tokens.refresh_reuse_grace is at
-- most a minute), so that the database holds a usable refresh token only
-- for that minute, and otherwise hashes alone. The partial index holds
-- only the rows that still keep one: a few seconds' rotations.

-- +goose Up
CREATE INDEX tokens_successor_rotated ON tokens (rotated_at) WHERE successor IS NOT NULL;

-- +goose Down
DROP INDEX tokens_successor_rotated;
