-- DPoP (RFC 9449): a token bound to a client's key keeps the key's JWK
-- thumbprint (cnf.jkt), so that introspection, /userinfo and a refresh
-- can ask for a proof of that key. NULL for bearer tokens. Numbered 00018:
-- 00017 belongs to another change; goose applies both in number order.

-- +goose Up
ALTER TABLE tokens ADD COLUMN jkt TEXT;

-- +goose Down
ALTER TABLE tokens DROP COLUMN jkt;
