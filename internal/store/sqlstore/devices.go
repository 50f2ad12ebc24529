package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// ListDevices returns the user's devices: the token families with a token
// active at now (a revoked grant's tokens are revoked with it), most
// recently used first. A family began with its oldest token; its newest
// says when, from where and on what it was last used. Found through
// tokens_user, then tokens_family per device.
func (db *DB) ListDevices(ctx context.Context, userID string, now time.Time) ([]store.Device, error) {
	if !validKey(userID) {
		return nil, nil
	}
	p := db.d.arg
	newest := func(col string) string {
		return "(SELECT n." + col + " FROM tokens n WHERE n.family_id = f.family_id ORDER BY n.created_at DESC, n.kind DESC LIMIT 1)"
	}
	q := "SELECT f.family_id, f.grant_id, f.client_id, f.last_used," +
		" (SELECT MIN(s.created_at) FROM tokens s WHERE s.family_id = f.family_id), " + newest("device") + ", " + newest("address") +
		" FROM (SELECT family_id, MIN(grant_id) AS grant_id, MIN(client_id) AS client_id, MAX(created_at) AS last_used FROM tokens" +
		" WHERE user_id = " + p(1) + " AND family_id IS NOT NULL AND revoked_at IS NULL AND expires_at > " + p(2) +
		" GROUP BY family_id HAVING SUM(CASE WHEN rotated_at IS NULL THEN 1 ELSE 0 END) > 0) f" +
		" ORDER BY f.last_used DESC, f.family_id"
	rows, err := db.query(ctx, db.read, q, userID, db.d.time(now))
	out, err := collect(rows, err, func(s rowScanner) (store.Device, error) {
		var d store.Device
		err := s.Scan(&d.FamilyID, opt(&d.GrantID), &d.ClientID, tm(&d.LastUsedAt), tm(&d.StartedAt), &d.Description, &d.Address)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", mapErr(err))
	}
	return out, nil
}
