-- require_signed_request_object (RFC 9101 §10.5): the client's authorization
-- requests must come as a request object signed with one of its keys.
-- profile: a security profile the client is held to whatever its other
-- settings say; 'fapi2' is the FAPI 2.0 Security Profile, '' none.

-- +goose Up
ALTER TABLE clients ADD COLUMN require_signed_request_object INTEGER NOT NULL DEFAULT 0
    CHECK (require_signed_request_object IN (0, 1));
ALTER TABLE clients ADD COLUMN profile TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN profile;
ALTER TABLE clients DROP COLUMN require_signed_request_object;
