-- Scopes a client cannot do without: the consent page shows them ticked,
-- and they cannot be unticked (openid always is).

-- +goose Up
ALTER TABLE clients ADD COLUMN required_scopes TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE clients DROP COLUMN required_scopes;
