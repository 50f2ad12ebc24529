package oauth

import "slices"

// The built-in scopes of the admin API: a token with ScopeAdmin may read
// and change everything there; ScopeAdminRead, only read. They are not in
// the configured registry and are granted only through client_credentials,
// to confidential clients: never through a user's consent, so an app a user
// trusts can never act as an administrator.
const (
	ScopeAdmin     = "latchkey:admin"
	ScopeAdminRead = "latchkey:admin:read"
)

// AdminScopes lists the built-in admin scopes.
var AdminScopes = []string{ScopeAdmin, ScopeAdminRead}

// IsAdminScope reports whether s is a built-in admin scope.
func IsAdminScope(s string) bool { return slices.Contains(AdminScopes, s) }

// withoutAdminScopes returns scopes less the admin scopes (a client's
// default scopes, asked for in a user's flow).
func withoutAdminScopes(scopes []string) []string {
	return slices.DeleteFunc(slices.Clone(scopes), IsAdminScope)
}
