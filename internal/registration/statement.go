package registration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// statementAlgs are the signature algorithms a software statement may use
// (RFC 7591 §2.3); "none" is not one of them.
var statementAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256, jose.PS256, jose.EdDSA}

// statementClaims are the JWT claims of a statement that are about the
// statement itself, not client metadata.
var statementClaims = []string{"iss", "iat", "exp", "nbf", "jti", "aud", "sub"}

// loadStatementKeys reads the trusted software statement keys: inline
// JSON, or the file that holds it; nil when neither is set.
func loadStatementKeys(inline, file string) (*jose.JSONWebKeySet, error) {
	raw := []byte(inline)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("software statement keys: %w", err)
		}
		raw = b
	}
	if len(raw) == 0 {
		return nil, nil
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 {
		return nil, errors.New("software statement keys: not a JWK Set with at least one key")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			return nil, errors.New("software statement keys: every key must be a valid public key")
		}
	}
	return &set, nil
}

// verifyStatement checks a software statement (RFC 7591 §2.3) and returns
// its metadata claims and issuer. A statement that is not a JWS signed with
// an accepted algorithm is invalid_software_statement; one no trusted key
// signed, or expired, is unapproved_software_statement (§3.2.2).
func verifyStatement(raw string, keys *jose.JSONWebKeySet, now time.Time) (map[string]json.RawMessage, string, *refusal) {
	invalid := func(d string) *refusal {
		return &refusal{Code: "invalid_software_statement", Description: d, status: 400}
	}
	unapproved := func(d string) *refusal {
		return &refusal{Code: "unapproved_software_statement", Description: d, status: 400}
	}
	jws, err := jose.ParseSigned(raw, statementAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", invalid("the software statement must be a JWT signed with one of ES256, ES384, RS256, PS256 or EdDSA")
	}
	if keys == nil {
		return nil, "", unapproved("this server trusts no software statement signer")
	}
	kid := jws.Signatures[0].Header.KeyID
	var payload []byte
	for _, k := range keys.Keys {
		if kid != "" && k.KeyID != "" && k.KeyID != kid {
			continue
		}
		if p, err := jws.Verify(k); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		return nil, "", unapproved("the software statement is not signed by a trusted key")
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return nil, "", invalid("the software statement's claims are not a JSON object")
	}
	var iss string
	if json.Unmarshal(claims["iss"], &iss) != nil || iss == "" {
		return nil, "", invalid("the software statement must name its issuer (iss)")
	}
	if v, ok := claims["exp"]; ok {
		var exp float64
		if json.Unmarshal(v, &exp) != nil || !now.Before(time.Unix(int64(exp), 0)) {
			return nil, "", unapproved("the software statement has expired")
		}
	}
	for _, c := range statementClaims {
		delete(claims, c)
	}
	delete(claims, "software_statement")
	return claims, iss, nil
}
