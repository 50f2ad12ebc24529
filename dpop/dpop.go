// Package dpop verifies DPoP proofs (RFC 9449): the JWT a client signs with
// a key of its own for each request, which binds the tokens it gets to
// that key, so that a stolen token is of no use without it. The same
// verifier serves the authorization server (token endpoint, /userinfo) and
// resource servers.
package dpop

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Algs are the proof signature algorithms accepted and advertised
// (dpop_signing_alg_values_supported): asymmetric only (RFC 9449 §4.3,
// step 5), never none or HMAC.
var Algs = []string{"ES256", "ES384", "PS256", "RS256", "EdDSA"}

// Header is the request header that carries a proof (RFC 9449 §4.1).
const Header = "DPoP"

// NonceHeader carries a server nonce to the client (RFC 9449 §8).
const NonceHeader = "DPoP-Nonce"

// Errors a verification returns; ErrUseNonce asks the client to retry with
// the nonce in the DPoP-Nonce header (error "use_dpop_nonce").
var (
	ErrInvalid  = errors.New("invalid DPoP proof")
	ErrUseNonce = errors.New("the DPoP proof must carry the server's nonce")
	ErrReplayed = errors.New("the DPoP proof was already used")
)

// maxProofBytes bounds a proof before any parsing (SECURITY.md F6).
const maxProofBytes = 8 << 10

// Window is how far a proof's iat may lie from now: in the past (its jti is
// remembered that long) or, for clocks ahead of ours, in the future.
const (
	MaxAge    = 5 * time.Minute
	MaxFuture = 1 * time.Minute
)

// NonceLifetime is how long one server nonce is current; the previous one
// is accepted too, so a nonce lives between one and two of these.
const NonceLifetime = 5 * time.Minute

// Replay remembers proof identifiers until they expire; exactly one caller
// may use an identifier (store.ReplayStore).
type Replay interface {
	UseOnce(ctx context.Context, scope, id string, expiresAt, now time.Time) error
}

// Verifier checks proofs.
type Verifier struct {
	// Replay keeps the jtis of proofs seen (in the store: across restarts
	// and nodes); ReplayUsed is the error it returns for one seen before.
	// With Memory set it may be nil (a resource server has no store).
	Replay     Replay
	ReplayUsed error
	// Memory, when set, keeps the jtis in this process's memory instead,
	// for a server that is the only one to verify proofs for its issuer
	// or resource (one process owning a SQLite database; a resource
	// server): no write per proof. What it forgets in a restart stays
	// refused by the restart rule (see useOnce). Started is when it was
	// created.
	Memory  *MemoryReplay
	Started time.Time
	// Future is how far ahead of now a proof's iat may be, for clients
	// whose clocks are ahead of ours; 0: MaxFuture. With Memory and no
	// Replay, proofs are refused for that long after Started.
	Future time.Duration
	// NonceKey derives the server nonces from the time, so that every node
	// knows the current one without writing anything; nil: no nonces.
	NonceKey []byte
	// RequireNonce makes every proof carry a current server nonce.
	RequireNonce bool
	// ProcessNonces says NonceKey is this process's own random key, never
	// used before it started: a proof with a valid nonce is then new, and
	// a proof the restart rule would refuse is answered ErrUseNonce
	// instead, so that a client retries with a nonce rather than fails
	// (a resource server in its first Future after a restart).
	ProcessNonces bool
	Now           func() time.Time

	keys keyCache
	// joseOnly: every proof through go-jose (readJOSE), for the tests
	// that compare the two readers.
	joseOnly bool
}

// Request is what a proof must match.
type Request struct {
	Method string // htm
	URL    string // htu, compared without query and fragment
	// AccessToken, when the request presents one, must hash to the
	// proof's ath.
	AccessToken string
}

// Proof is a verified proof.
type Proof struct {
	// JKT is the SHA-256 JWK thumbprint (RFC 7638) of the proof's key,
	// base64url: what tokens are bound to (cnf.jkt).
	JKT string
	JTI string
	IAT time.Time
	// Alg is the proof's signature algorithm, one of Algs, for a caller
	// that accepts fewer (a profile's).
	Alg string
}

type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   *int64 `json:"iat"`
	ATH   string `json:"ath"`
	Nonce string `json:"nonce"`
}

// Verify checks proof against req (RFC 9449 §4.3): one compact JWS, typ
// dpop+jwt, an asymmetric algorithm, a public jwk in the header that
// verifies it, jti, htm and htu of this request, iat within the window,
// ath of the presented token, the server nonce when required, and a jti
// never seen before.
func (v *Verifier) Verify(ctx context.Context, proof string, req Request) (Proof, error) {
	now := v.Now()
	if proof == "" || len(proof) > maxProofBytes || strings.Count(proof, ".") != 2 {
		return Proof{}, fmt.Errorf("%w: not a compact JWS", ErrInvalid)
	}
	alg, jkt, payload, ok, err := v.readCompact(proof)
	if !ok {
		alg, jkt, payload, err = readJOSE(proof)
	}
	if err != nil {
		return Proof{}, err
	}
	var c proofClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Proof{}, fmt.Errorf("%w: claims: %v", ErrInvalid, err)
	}
	switch {
	case c.JTI == "" || len(c.JTI) > 256:
		return Proof{}, fmt.Errorf("%w: jti missing or too long", ErrInvalid)
	case c.HTM != req.Method:
		return Proof{}, fmt.Errorf("%w: htm is not this request's method", ErrInvalid)
	case !sameHTU(c.HTU, req.URL):
		return Proof{}, fmt.Errorf("%w: htu is not this request's URL", ErrInvalid)
	case c.IAT == nil:
		return Proof{}, fmt.Errorf("%w: iat missing", ErrInvalid)
	}
	iat := time.Unix(*c.IAT, 0)
	if iat.Before(now.Add(-MaxAge)) || iat.After(now.Add(v.future())) {
		return Proof{}, fmt.Errorf("%w: iat outside the accepted window", ErrInvalid)
	}
	if req.AccessToken != "" || c.ATH != "" {
		sum := sha256.Sum256([]byte(req.AccessToken))
		if req.AccessToken == "" || !hmac.Equal([]byte(c.ATH), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) {
			return Proof{}, fmt.Errorf("%w: ath does not match the access token", ErrInvalid)
		}
	}
	if v.RequireNonce || c.Nonce != "" {
		if !v.nonceOK(c.Nonce, now) {
			return Proof{}, ErrUseNonce
		}
	}
	// A nonce of this process's own key was made after Started: its
	// proof cannot have been seen by an earlier process.
	fresh := v.ProcessNonces && c.Nonce != ""
	if err := v.useOnce(ctx, "dpop:"+jkt, c.JTI, iat, now, fresh); err != nil {
		return Proof{}, err
	}
	return Proof{JKT: jkt, JTI: c.JTI, IAT: iat, Alg: alg}, nil
}

func (v *Verifier) future() time.Duration {
	if v.Future > 0 {
		return v.Future
	}
	return MaxFuture
}

// useOnce lets one use of a key's jti pass, remembered until the proof
// could no longer pass the iat check (RFC 9449 §11.1).
//
// With Memory, the restart rule (SECURITY.md, "no resurrection") keeps
// what a restart forgets refused. A proof this process remembers only in
// memory has an iat no later than the moment it was seen, so one seen by
// an earlier process has an iat before Started: such proofs are refused
// (a client that made one just before a restart makes another). Proofs
// dated ahead of our clock, which an earlier process may have seen with
// an iat after Started, go to Replay as well, and so do all proofs with an
// iat within Future of Started, for an earlier process may have seen them
// dated ahead. Memory remembers every proof, so a future-dated proof
// stays refused once its iat has passed. Without Replay (a resource
// server), those proofs are refused instead: a client may be at most
// Future ahead, and none is accepted in the first Future after Started
// unless it carries a nonce of ProcessNonces, which only this process can
// have handed out (fresh): such a proof is asked for with ErrUseNonce.
func (v *Verifier) useOnce(ctx context.Context, scope, jti string, iat, now time.Time, fresh bool) error {
	expires := iat.Add(MaxAge)
	early := iat.Before(v.Started.Add(v.future()))
	if v.Memory != nil && !fresh {
		switch {
		case v.Replay == nil && v.ProcessNonces && (early || iat.Before(v.Started)):
			// Ask for a nonce of this process, which proves the next proof new.
			return ErrUseNonce
		case iat.Before(v.Started):
			return fmt.Errorf("%w: issued before this server started (it may have been used before a restart)", ErrInvalid)
		case v.Replay == nil && early:
			return fmt.Errorf("%w: issued too soon after this server started (it may have been used before a restart)", ErrInvalid)
		}
	}
	if v.Memory != nil {
		if err := v.Memory.UseOnce(ctx, scope, jti, expires, now); err != nil {
			if errors.Is(err, ErrSeen) {
				return ErrReplayed
			}
			return err
		}
		if v.Replay == nil || (!early && !iat.After(now)) {
			return nil
		}
	}
	if err := v.Replay.UseOnce(ctx, scope, jti, expires, now); err != nil {
		if v.ReplayUsed != nil && errors.Is(err, v.ReplayUsed) {
			return ErrReplayed
		}
		return err
	}
	return nil
}

// sameHTU compares a proof's htu with the request's URL as RFC 9449 §4.3
// step 9 says: ignoring query and fragment, scheme and host without regard
// to case, a default port the same as none.
func sameHTU(htu, want string) bool {
	a, err := url.Parse(htu)
	if err != nil || !a.IsAbs() {
		return false
	}
	b, err := url.Parse(want)
	if err != nil {
		return false
	}
	return normalURL(a) == normalURL(b)
}

func normalURL(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	host = strings.TrimSuffix(host, map[string]string{"https": ":443", "http": ":80"}[scheme])
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// Nonce returns the server nonce current at now: an HMAC of the time slot
// under NonceKey, the same on every node with the same system secret, and
// no longer accepted two slots later.
func (v *Verifier) Nonce(now time.Time) string {
	return v.nonceFor(now.Unix() / int64(NonceLifetime/time.Second))
}

func (v *Verifier) nonceFor(slot int64) string {
	m := hmac.New(sha256.New, v.NonceKey)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(slot))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// nonceOK accepts the current slot's nonce and the previous one's.
func (v *Verifier) nonceOK(nonce string, now time.Time) bool {
	if v.NonceKey == nil || nonce == "" {
		return false
	}
	slot := now.Unix() / int64(NonceLifetime/time.Second)
	return hmac.Equal([]byte(nonce), []byte(v.nonceFor(slot))) || hmac.Equal([]byte(nonce), []byte(v.nonceFor(slot-1)))
}

// Thumbprint returns the base64url SHA-256 JWK thumbprint of key, as JKT.
func Thumbprint(key *jose.JSONWebKey) (string, error) {
	t, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(t), nil
}
