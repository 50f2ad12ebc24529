-- A rotated refresh token keeps its successor, sealed (AES-256-GCM under a
-- key derived from the system secret, bound to the rotated token's hash),
-- so that a client presenting it again within tokens.refresh_reuse_grace
-- (a lost response, two tabs at once) gets the same successor back instead
-- of being signed out. Never the plain token. NULL when rotation kept none
-- (a strict grace of 0, or a row rotated before this migration). Numbered
-- 00015: 00014 belongs to another change, and goose applies both to any
-- database in number order.

-- +goose Up
ALTER TABLE tokens ADD COLUMN successor BYTEA;

-- +goose Down
ALTER TABLE tokens DROP COLUMN successor;
