-- One grant per user and app: a new consent extends the app's grant
-- instead of adding another. Existing databases may hold several unrevoked
-- grants of one user to one app; they are merged here. A grant whose
-- lifetime has ended is closed (revoked at its expiry: its tokens expired
-- with it). Of the rest, the newest of each user and app keeps the union
-- of their scopes and the longest lifetime, and takes over their codes and
-- tokens; the others are deleted.

-- +goose Up
UPDATE grants SET revoked_at = expires_at
WHERE revoked_at IS NULL AND expires_at <= now();

CREATE TEMP TABLE grant_merge ON COMMIT DROP AS
SELECT id AS old_id,
       first_value(id) OVER (PARTITION BY user_id, client_id ORDER BY created_at DESC NULLS LAST, id DESC) AS new_id
FROM grants WHERE revoked_at IS NULL;
DELETE FROM grant_merge WHERE old_id = new_id;

UPDATE grants g SET
    scopes = (SELECT COALESCE(jsonb_agg(DISTINCT s ORDER BY s), '[]'::jsonb)::text
        FROM grants g2, jsonb_array_elements_text(g2.scopes::jsonb) s
        WHERE g2.user_id = g.user_id AND g2.client_id = g.client_id AND g2.revoked_at IS NULL),
    expires_at = (SELECT CASE WHEN bool_or(g3.expires_at IS NULL) THEN NULL ELSE max(g3.expires_at) END
        FROM grants g3
        WHERE g3.user_id = g.user_id AND g3.client_id = g.client_id AND g3.revoked_at IS NULL)
WHERE g.id IN (SELECT new_id FROM grant_merge);

UPDATE tokens t SET grant_id = m.new_id FROM grant_merge m WHERE t.grant_id = m.old_id;
UPDATE codes c SET grant_id = m.new_id FROM grant_merge m WHERE c.grant_id = m.old_id;
DELETE FROM grants WHERE id IN (SELECT old_id FROM grant_merge);

CREATE UNIQUE INDEX grants_one_per_app ON grants (user_id, client_id) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX grants_one_per_app;
