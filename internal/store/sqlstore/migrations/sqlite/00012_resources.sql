-- Protected APIs registered as RFC 8707 resources. A resource's URI is the
-- aud of the access tokens meant for it; it introspects them with the
-- credentials of its own client (a client with no grant types), which goes
-- with it. Clients may be limited to a list of resources; requests, codes
-- and tokens remember the resources they were issued for.

-- +goose Up
CREATE TABLE resources (
    uri        TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    client_id  TEXT NOT NULL UNIQUE REFERENCES clients (id) ON DELETE CASCADE,
    created_at INTEGER,
    updated_at INTEGER
) STRICT;
ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE auth_requests ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tokens ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE tokens DROP COLUMN resources;
ALTER TABLE codes DROP COLUMN resources;
ALTER TABLE auth_requests DROP COLUMN resources;
ALTER TABLE clients DROP COLUMN resources;
DROP TABLE resources;
