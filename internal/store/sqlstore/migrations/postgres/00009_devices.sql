-- Devices: each refresh-token family is one device or browser holding an
-- app's tokens. The browser that authorized (auth_requests, codes) and
-- the request that redeemed or refreshed (tokens) name it; the newest
-- token of a family tells when and from where it was last used, so no
-- write beyond the tokens themselves is needed.

-- +goose Up
ALTER TABLE auth_requests ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE codes ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN address TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tokens DROP COLUMN address;
ALTER TABLE tokens DROP COLUMN device;
ALTER TABLE codes DROP COLUMN device;
ALTER TABLE auth_requests DROP COLUMN device;
