package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// MaxTokenSize is the largest token Verify reads: longer input is refused
// before it is split or decoded, so that a hostile string (a megabyte of
// dots: CVE-2025-30204, CVE-2025-27144, CVE-2025-22868) costs nothing.
// Latchkey's own tokens are well under 2 KiB.
const MaxTokenSize = 16 << 10

// Bounds on each encoded segment, checked before decoding. Ours are far
// smaller: a header is about 90 characters, an RS256 signature 342, an
// access token's payload well under 2 KiB. They keep the memory one hostile
// token can make Verify allocate under 64 KiB (SECURITY.md F6): go-jose
// decodes the payload and re-encodes it to check the signature, about four
// times its encoded length in all.
const (
	maxHeaderLen    = 1 << 10
	maxPayloadLen   = 12 << 10
	maxSignatureLen = 1 << 10
)

// ErrInvalidToken is returned (wrapped, with the reason) by Verify for any
// token that is not intact, signed by one of our keys that is not retired,
// and of the wanted type. Compare with errors.Is; the reason is for logs,
// never for clients.
var ErrInvalidToken = errors.New("token: invalid")

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, reason) }

// Reasons for refusing a token, made once so that refusing allocates nothing.
var (
	errTooLarge        = invalid("token too large")
	errAlgNotAllowed   = invalid("algorithm not allowed")
	errTyp             = invalid("wrong typ")
	errUnknownKid      = invalid("unknown kid")
	errRetiredKid      = invalid("retired kid")
	errAlgMismatch     = invalid("algorithm does not match the key")
	errMalformed       = invalid("malformed JWS")
	errSignature       = invalid("bad signature")
	errTooManySegments = invalid("more than three segments")
	errNotBase64       = invalid("not base64url")
	errSegments        = invalid("not three segments")
	errNotCanonical    = invalid("not canonical base64url")
	errHeaderBase64    = invalid("header not base64url")
	errHeaderObject    = invalid("header not a JSON object")
	errHeaderJSON      = invalid("header not JSON")
	errCrit            = invalid("crit header")
	errHeaderMember    = invalid("unexpected header member")
	errHeaderDuplicate = invalid("duplicate header member")
	errHeaderValue     = invalid("header member not a string")
	errHeaderTrailing  = invalid("data after header")
	errHeaderMissing   = invalid("header lacks alg or kid")
	errSegmentTooLarge = invalid("segment too large")
)

// Verify checks that token is a compact JWS signed by one of our keys that
// is not retired, with typ wantTyp, and unmarshals its payload into claims.
// Expiry, issuer and audience are the caller's to check.
//
// In order, it refuses (RFC 8725 §3.1, §3.11; RFC 9068 §4; RFC 7515 §4.1.11):
// tokens over MaxTokenSize; anything but exactly three non-empty segments of
// canonical unpadded base64url (more than three is "too many", not a JWE);
// segments over their bounds (header and signature 1 KiB, payload 12 KiB);
// a protected header that is not a flat JSON
// object of exactly the string members alg, kid and typ (so crit, jku, jwk,
// x5u, x5c, b64 and duplicate members are refused); alg outside the
// algorithms of our keys (so "none" and HS256 never pass, whatever the key);
// an unknown or retired kid, or one whose key has another alg; typ not
// equal to wantTyp, compared case-insensitively with "application/"
// optional (RFC 7515 §4.1.9), so "at+jwt" accepts "application/at+jwt";
// a signature that does not verify (checked by go-jose with the allow-list).
func (k *Keys) Verify(token, wantTyp string, claims any) error {
	if len(token) > MaxTokenSize {
		return errTooLarge
	}
	headerSeg, err := checkCompact(token)
	if err != nil {
		return err
	}
	h, err := parseHeader(headerSeg)
	if err != nil {
		return err
	}
	set := k.set.Load()
	// RFC 8725 §3.1: "Libraries MUST enable the caller to specify a
	// supported set of algorithms and MUST NOT use any other algorithms".
	if !slices.Contains(set.algs, jose.SignatureAlgorithm(h.alg)) {
		return errAlgNotAllowed
	}
	// RFC 8725 §3.11: "explicit typing"; RFC 9068 §4: resource servers
	// "MUST verify that the typ header value is at+jwt or application/at+jwt".
	if wantTyp == "" || !typMatches(h.typ, wantTyp) {
		return errTyp
	}
	kk, ok := set.byID[h.kid]
	if !ok {
		return errUnknownKid
	}
	if kk.retired(k.now()) {
		return errRetiredKid
	}
	if kk.alg != h.alg {
		return errAlgMismatch
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(kk.alg)})
	if err != nil {
		return errMalformed
	}
	payload, err := jws.Verify(kk.pub)
	if err != nil {
		return errSignature
	}
	if err := json.Unmarshal(payload, claims); err != nil {
		return fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	return nil
}

// typMatches compares a typ header with the wanted media type: "Recipients
// using the media type value MUST treat it as if 'application/' were
// prepended to any 'typ' value not containing a '/'" (RFC 7515 §4.1.9), and
// media type names are case-insensitive (RFC 2045 §5.1).
func typMatches(got, want string) bool {
	norm := func(s string) string {
		if !strings.Contains(s, "/") {
			return "application/" + s
		}
		return s
	}
	return got != "" && strings.EqualFold(norm(got), norm(want))
}

// checkCompact checks the JWS Compact Serialization shape (RFC 7515 §7.1)
// without allocating: only base64url characters and exactly two dots, three
// non-empty segments, each canonical unpadded base64url (RFC 7515 §2: no
// padding, no whitespace, no standard-alphabet characters, zero trailing
// bits, so a token has exactly one spelling). It returns the header segment.
func checkCompact(token string) (string, error) {
	dots := [2]int{}
	n := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if n == 2 {
				return "", errTooManySegments
			}
			dots[n] = i
			n++
		case b64Value(c) < 0:
			return "", errNotBase64
		}
	}
	if n != 2 {
		return "", errSegments
	}
	header, payload, sig := token[:dots[0]], token[dots[0]+1:dots[1]], token[dots[1]+1:]
	for _, seg := range [...]string{header, payload, sig} {
		if !canonicalB64(seg) {
			return "", errNotCanonical
		}
	}
	if len(header) > maxHeaderLen || len(payload) > maxPayloadLen || len(sig) > maxSignatureLen {
		return "", errSegmentTooLarge
	}
	return header, nil
}

// b64Value is the 6-bit value of a base64url character, or -1.
func b64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

// canonicalB64 reports whether seg (base64url characters only) is non-empty
// and the one encoding of its bytes: no impossible length, and the unused
// low bits of the last character zero.
func canonicalB64(seg string) bool {
	switch len(seg) % 4 {
	case 0:
		return len(seg) > 0
	case 1:
		return false
	case 2: // 12 bits, 8 used
		return b64Value(seg[len(seg)-1])&0x0f == 0
	default: // 18 bits, 16 used
		return b64Value(seg[len(seg)-1])&0x03 == 0
	}
}

type header struct{ alg, kid, typ string }

// parseHeader decodes the protected header strictly: a flat JSON object
// whose members are exactly alg, kid and typ, each a string, once. Nested
// values are refused at their first token, so parsing stays bounded.
func parseHeader(seg string) (header, error) {
	var h header
	raw, err := b64.DecodeString(seg)
	if err != nil {
		return h, errHeaderBase64
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return h, errHeaderObject
	}
	var seen [3]bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return h, errHeaderJSON
		}
		name, _ := t.(string)
		if name == "crit" {
			// RFC 7515 §4.1.11: recipients MUST reject a JWS whose
			// critical extensions they do not understand; we use none.
			return h, errCrit
		}
		var dst *string
		var i int
		switch name {
		case "alg":
			dst, i = &h.alg, 0
		case "kid":
			dst, i = &h.kid, 1
		case "typ":
			dst, i = &h.typ, 2
		default:
			return h, errHeaderMember
		}
		if seen[i] {
			return h, errHeaderDuplicate
		}
		seen[i] = true
		v, err := dec.Token()
		s, ok := v.(string)
		if err != nil || !ok {
			return h, errHeaderValue
		}
		*dst = s
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return h, errHeaderJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return h, errHeaderTrailing
	}
	if !seen[0] || !seen[1] {
		return h, errHeaderMissing
	}
	return h, nil
}
