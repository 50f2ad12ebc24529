package oauth

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/latchkey/latchkey/internal/store"
)

// ProfileFAPI2 holds a client to the FAPI 2.0 Security Profile (final,
// February 2025). Its registration is refused unless it fits, and every
// request of it is checked again against the profile, so that neither a
// later edit of one setting nor a server-wide default weakens it.
// docs/fapi2.md lists each clause, how it is enforced and its test.
const ProfileFAPI2 = "fapi2"

// Profiles are the security profiles a client may be held to.
var Profiles = []string{ProfileFAPI2}

// FAPI2Algs are the only JWS algorithms of a FAPI 2.0 client's client
// assertions, request objects, DPoP proofs and ID tokens (FAPI 2.0
// Security Profile §5.4.1: "shall use PS256, ES256, or EdDSA (using the
// Ed25519 variant)"). Access tokens of such a client are opaque when the
// server signs JWTs with anything else.
var FAPI2Algs = []string{"PS256", "ES256", "EdDSA"}

// fapi2MaxCodeTTL: §5.3.2.1, "shall issue authorization codes with a
// maximum lifetime of 60 seconds".
const fapi2MaxCodeTTL = time.Minute

// fapi2MinRSABits: §5.4.1, "RSA keys shall have a minimum length of 2048
// bits" (its EC minimum, 224 bits, every curve accepted here meets).
const fapi2MinRSABits = 2048

// fapi2Grants are the grant types a FAPI 2.0 client may be registered for:
// the authorization code grant with refresh, and client credentials, whose
// tokens are sender-constrained too. Never the password grant (§5.3.2.1:
// "shall reject requests using the resource owner password credentials
// grant"), the implicit grant (§5.3.2.2: the authorization code grant,
// nothing else from the authorization endpoint) or the device grant, whose
// code can be relayed to a user by an attacker (RFC 9700 §4.14 cites this
// kind of phishing), none of which FAPI 2.0 lists.
var fapi2Grants = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}

// isFAPI2 reports whether c is held to the FAPI 2.0 Security Profile.
func isFAPI2(c store.Client) bool { return c.Profile == ProfileFAPI2 }

// validateProfile reports every way the registration c falls short of its
// profile.
func validateProfile(c store.Client) []error {
	switch c.Profile {
	case "":
		return nil
	case ProfileFAPI2:
	default:
		return []error{fmt.Errorf("unknown profile %q (known: %v)", c.Profile, Profiles)}
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf("fapi2: "+format, args...)) }
	if c.Public {
		fail("the client must be confidential (FAPI 2.0 §5.3.2.1: \"shall only support confidential clients\")")
	}
	if c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		fail("the client must authenticate with private_key_jwt (FAPI 2.0 §5.3.2.1)")
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(fapi2Grants, g) {
			fail("grant type %q is not allowed (FAPI 2.0 allows %v)", g, fapi2Grants)
		}
	}
	if c.CodeTTL > fapi2MaxCodeTTL {
		fail("code_ttl must be at most 60s (FAPI 2.0 §5.3.2.1)")
	}
	if c.JWKS != "" {
		var set jose.JSONWebKeySet
		if json.Unmarshal([]byte(c.JWKS), &set) == nil {
			for _, k := range set.Keys {
				if rk, ok := k.Key.(*rsa.PublicKey); ok && rk.N.BitLen() < fapi2MinRSABits {
					fail("RSA key %q has %d bits, fewer than 2048 (FAPI 2.0 §5.4.1)", k.KeyID, rk.N.BitLen())
				}
			}
		}
	}
	if !slices.Contains(FAPI2Algs, c.IDTokenAlg) {
		fail("ID tokens must be signed with one of %v, not the default RS256 (FAPI 2.0 §5.4.1)", FAPI2Algs)
	}
	return errs
}

// ApplyProfileDefaults fills what a registration left empty and its
// profile fixes: a FAPI 2.0 client's ID tokens are ES256 unless it chose.
func ApplyProfileDefaults(c *store.Client) {
	if isFAPI2(*c) && c.IDTokenAlg == "" {
		c.IDTokenAlg = "ES256"
	}
}

// allowedAlgs narrows the algorithms accepted from client c (its
// assertions, request objects, DPoP proofs) to its profile's.
func allowedAlgs(c store.Client, algs []string) []string {
	if !isFAPI2(c) {
		return algs
	}
	var out []string
	for _, a := range algs {
		if slices.Contains(FAPI2Algs, a) {
			out = append(out, a)
		}
	}
	return out
}
