package oauth

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/store"
)

// IssueInitialAccessToken stores a new initial access token (RFC 7591 §3)
// and returns it in plain, shown once: ttl zero never expires, maxUses zero
// allows any number of registrations.
func IssueInitialAccessToken(ctx context.Context, st store.RegistrationTokenStore, now time.Time, ttl time.Duration,
	maxUses int, description string) (secret.Value, store.RegistrationToken, error) {
	v := secret.New(secret.PrefixInitialAccess)
	t := store.RegistrationToken{ID: "iat_" + secret.RandomString(9), Hash: secret.Hash(string(v)), Description: description,
		CreatedAt: now, MaxUses: maxUses}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	if err := st.CreateRegistrationToken(ctx, t); err != nil {
		return "", store.RegistrationToken{}, err
	}
	return v, t, nil
}
