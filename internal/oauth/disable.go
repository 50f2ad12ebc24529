package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// accountStore is what disabling an account changes.
type accountStore interface {
	store.UserStore
	store.GrantStore
	store.SessionStore
}

// SetDisabled disables (or enables) the user's account at now. Disabling
// refuses every later sign-in (Passwords.Check), ends the user's sessions
// and revokes every active grant with its codes and tokens, so nothing the
// user held keeps working. Enabling brings nothing revoked back. It
// returns the user as stored, and whether anything changed; ErrNotFound.
func SetDisabled(ctx context.Context, st accountStore, userID string, disabled bool, now time.Time) (store.User, bool, error) {
	u, err := st.GetUser(ctx, userID)
	if err != nil {
		return u, false, err
	}
	if disabled == !u.DisabledAt.IsZero() {
		return u, false, nil
	}
	u.DisabledAt, u.UpdatedAt = time.Time{}, now
	if disabled {
		u.DisabledAt = now
	}
	if err := st.UpdateUser(ctx, u); err != nil {
		return u, false, err
	}
	if !disabled {
		return u, true, nil
	}
	if _, err := st.DeleteUserSessions(ctx, userID); err != nil {
		return u, true, err
	}
	grants, err := st.ListGrantsByUser(ctx, userID)
	if err != nil {
		return u, true, err
	}
	for _, g := range grants {
		if !g.RevokedAt.IsZero() {
			continue
		}
		if err := st.RevokeGrant(ctx, g.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return u, true, err
		}
	}
	return u, true, nil
}
