-- One grant per user and app: a new consent extends the app's grant
-- instead of adding another. Existing databases may hold several unrevoked
-- grants of one user to one app; they are merged here. A grant whose
-- lifetime has ended is closed (revoked at its expiry: its tokens expired
-- with it). Of the rest, the newest of each user and app keeps the union
-- of their scopes and the longest lifetime, and takes over their codes and
-- tokens; the others are deleted.

-- +goose Up
UPDATE grants SET revoked_at = expires_at
WHERE revoked_at IS NULL AND expires_at IS NOT NULL
  AND expires_at <= CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER);

CREATE TEMP TABLE grant_merge AS
SELECT g.id AS old_id,
       (SELECT s.id FROM grants s
        WHERE s.user_id = g.user_id AND s.client_id = g.client_id AND s.revoked_at IS NULL
        ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS new_id
FROM grants g WHERE g.revoked_at IS NULL;
DELETE FROM grant_merge WHERE old_id = new_id;

UPDATE grants SET
    scopes = (SELECT json_group_array(value) FROM (
        SELECT DISTINCT j.value AS value FROM grants g2, json_each(g2.scopes) j
        WHERE g2.user_id = grants.user_id AND g2.client_id = grants.client_id AND g2.revoked_at IS NULL
        ORDER BY j.value)),
    expires_at = (SELECT CASE WHEN COUNT(*) > COUNT(g3.expires_at) THEN NULL ELSE MAX(g3.expires_at) END
        FROM grants g3
        WHERE g3.user_id = grants.user_id AND g3.client_id = grants.client_id AND g3.revoked_at IS NULL)
WHERE id IN (SELECT new_id FROM grant_merge);

UPDATE tokens SET grant_id = (SELECT new_id FROM grant_merge WHERE old_id = tokens.grant_id)
WHERE grant_id IN (SELECT old_id FROM grant_merge);
UPDATE codes SET grant_id = (SELECT new_id FROM grant_merge WHERE old_id = codes.grant_id)
WHERE grant_id IN (SELECT old_id FROM grant_merge);
DELETE FROM grants WHERE id IN (SELECT old_id FROM grant_merge);
DROP TABLE grant_merge;

CREATE UNIQUE INDEX grants_one_per_app ON grants (user_id, client_id) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX grants_one_per_app;
