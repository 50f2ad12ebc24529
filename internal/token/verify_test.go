package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// rejects asserts that Verify refuses tok with ErrInvalidToken and leaves
// the claims untouched.
func rejects(t *testing.T, k *Keys, tok, wantTyp, why string) {
	t.Helper()
	var c AccessClaims
	err := k.Verify(tok, wantTyp, &c)
	if !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify = %v, want ErrInvalidToken (%s)\ntoken: %.200s", err, why, tok)
	}
	if c.Subject != "" {
		t.Errorf("claims filled in for a refused token")
	}
}

func accepts(t *testing.T, k *Keys, tok, wantTyp string) {
	t.Helper()
	var c AccessClaims
	if err := k.Verify(tok, wantTyp, &c); err != nil {
		t.Errorf("Verify = %v, want success\ntoken: %.200s", err, tok)
	}
}

func payloadOf(t testing.TB, now time.Time) []byte {
	t.Helper()
	p, err := json.Marshal(testClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func seg(s string) string { return b64.EncodeToString([]byte(s)) }

// TestRFC9068_2_1_TypHeader: "Resource servers MUST verify that the 'typ'
// header value is 'at+jwt' or 'application/at+jwt'" (RFC 9068 §4), compared
// case-insensitively (RFC 8725 §3.11, RFC 7515 §4.1.9). An ID token
// (typ JWT) is never an access token.
func TestRFC9068_2_1_TypHeader(t *testing.T) {
	f := newFixture(t, ES256)
	kid := activeKid(t, f.keys)
	p := payloadOf(t, f.clk.Now())
	hdr := func(typ string) string {
		return `{"alg":"ES256","kid":"` + kid + `","typ":` + typ + `}`
	}
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"at+jwt", hdr(`"at+jwt"`), true},
		{"application/at+jwt", hdr(`"application/at+jwt"`), true},
		{"upper_case", hdr(`"AT+JWT"`), true},
		{"mixed_case_media_type", hdr(`"Application/At+Jwt"`), true},
		{"id_token_JWT", hdr(`"JWT"`), false},
		{"jwt_lower", hdr(`"jwt"`), false},
		{"application/jwt", hdr(`"application/jwt"`), false},
		{"empty", hdr(`""`), false},
		{"trailing_space", hdr(`"at+jwt "`), false},
		{"parameter", hdr(`"at+jwt; charset=utf-8"`), false},
		{"other_prefix", hdr(`"text/at+jwt"`), false},
		{"not_a_string", hdr(`1`), false},
		{"null", hdr(`null`), false},
		{"absent", `{"alg":"ES256","kid":"` + kid + `"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := signWithHeader(t, f.keys, kid, tc.header, p)
			if tc.ok {
				accepts(t, f.keys, tok, TypeAccessToken)
			} else {
				rejects(t, f.keys, tok, TypeAccessToken, "typ "+tc.header)
			}
		})
	}
	t.Run("access_token_is_not_an_id_token", func(t *testing.T) {
		rejects(t, f.keys, mustSign(t, f.keys, testClaims(f.clk.Now())), "JWT", "at+jwt where JWT is wanted")
	})
	t.Run("empty_wanted_typ_accepts_nothing", func(t *testing.T) {
		rejects(t, f.keys, mustSign(t, f.keys, testClaims(f.clk.Now())), "", "no wanted typ")
		rejects(t, f.keys, signWithHeader(t, f.keys, kid, `{"alg":"ES256","kid":"`+kid+`"}`, p), "", "no typ, none wanted")
	})
}

// TestRFC8725_3_1_AlgNoneRejected: "none" is never accepted, in any case,
// with or without a signature.
func TestRFC8725_3_1_AlgNoneRejected(t *testing.T) {
	f := newFixture(t, ES256)
	kid := activeKid(t, f.keys)
	good := mustSign(t, f.keys, testClaims(f.clk.Now()))
	goodSig := good[strings.LastIndexByte(good, '.')+1:]
	p := seg(string(payloadOf(t, f.clk.Now())))
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		h := seg(`{"alg":"` + alg + `","kid":"` + kid + `","typ":"at+jwt"}`)
		t.Run(alg+"/empty_signature", func(t *testing.T) { rejects(t, f.keys, h+"."+p+".", TypeAccessToken, "alg none") })
		t.Run(alg+"/no_third_segment", func(t *testing.T) { rejects(t, f.keys, h+"."+p, TypeAccessToken, "alg none") })
		t.Run(alg+"/valid_signature_kept", func(t *testing.T) { rejects(t, f.keys, h+"."+p+"."+goodSig, TypeAccessToken, "alg none") })
	}
}

// TestRFC8725_3_1_HS256WithPublicKeyRejected: a token MACed with HS256
// using the public key's bytes (every form a verifier might confuse for a
// secret) is refused: HS* is not in the allow-list of an asymmetric key set.
func TestRFC8725_3_1_HS256WithPublicKeyRejected(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			kid := activeKid(t, f.keys)
			pub := f.keys.set.Load().byID[kid].pub
			spki, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			secrets := map[string][]byte{
				"spki_der": spki,
				"pem":      pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}),
				"jwk":      f.keys.set.Load().byID[kid].jwk,
				"jwks":     f.keys.JWKS(),
			}
			p := seg(string(payloadOf(t, f.clk.Now())))
			for name, key := range secrets {
				for _, hs := range []string{"HS256", "HS384", "HS512"} {
					t.Run(name+"/"+hs, func(t *testing.T) {
						in := seg(`{"alg":"`+hs+`","kid":"`+kid+`","typ":"at+jwt"}`) + "." + p
						mac := hmac.New(sha256.New, key)
						mac.Write([]byte(in))
						rejects(t, f.keys, in+"."+b64.EncodeToString(mac.Sum(nil)), TypeAccessToken, hs+" with public key")
					})
				}
			}
		})
	}
}

// TestRFC8725_3_1_AlgOutsideAllowList: only the algorithms of our keys are
// accepted, exactly spelled, and only with a key of that algorithm.
func TestRFC8725_3_1_AlgOutsideAllowList(t *testing.T) {
	f := newFixture(t, ES256)
	kid := activeKid(t, f.keys)
	p := payloadOf(t, f.clk.Now())
	// An RSA key that signs under our kid: the signature is valid for the
	// header it carries, only the algorithm is wrong.
	rsaRow, err := GenerateKey(RS256, f.sealKey, f.clk.Now(), f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	rsaMat, err := openKey(rsaRow, f.sealKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"RS256", "PS256", "ES384", "ES512", "EdDSA", "es256", "ES256 ", ""} {
		t.Run("alg_"+alg, func(t *testing.T) {
			tok, err := rsaMat.signCompact(seg(`{"alg":"`+alg+`","kid":"`+kid+`","typ":"at+jwt"}`), p)
			if err != nil {
				t.Fatal(err)
			}
			rejects(t, f.keys, tok, TypeAccessToken, "alg "+alg)
		})
	}
	t.Run("alg_of_another_loaded_key", func(t *testing.T) {
		// With an EdDSA key loaded too, EdDSA is in the allow-list, but
		// not for the ES256 key's kid.
		if _, err := Rotate(t.Context(), f.st, f.sealKey, EdDSA, f.clk.Now(), time.Hour, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := f.keys.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		var edKid string
		for id, k := range f.keys.set.Load().byID {
			if k.alg == EdDSA {
				edKid = id
			}
		}
		m := f.keys.set.Load().byID[edKid].material
		tok, err := m.signCompact(seg(`{"alg":"EdDSA","kid":"`+kid+`","typ":"at+jwt"}`), p)
		if err != nil {
			t.Fatal(err)
		}
		rejects(t, f.keys, tok, TypeAccessToken, "EdDSA under an ES256 kid")
		accepts(t, f.keys, signWithHeader(t, f.keys, edKid, `{"alg":"EdDSA","kid":"`+edKid+`","typ":"at+jwt"}`, p), TypeAccessToken)
	})
}

// TestRFC7515_4_1_4_UnknownKeyRejected: a valid signature by a key that is
// not ours, under a kid that is not ours, under our kid, or under none.
func TestRFC7515_4_1_4_UnknownKeyRejected(t *testing.T) {
	f := newFixture(t, ES256)
	kid := activeKid(t, f.keys)
	other := newFixture(t, ES256) // another deployment
	otherKid := activeKid(t, other.keys)
	p := payloadOf(t, f.clk.Now())
	t.Run("foreign_key_foreign_kid", func(t *testing.T) {
		rejects(t, f.keys, mustSign(t, other.keys, testClaims(f.clk.Now())), TypeAccessToken, "unknown kid")
	})
	t.Run("foreign_key_our_kid", func(t *testing.T) {
		tok := signWithHeader(t, other.keys, otherKid, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`, p)
		rejects(t, f.keys, tok, TypeAccessToken, "signature by another key")
	})
	t.Run("no_kid", func(t *testing.T) {
		rejects(t, f.keys, signWithHeader(t, f.keys, kid, `{"alg":"ES256","typ":"at+jwt"}`, p), TypeAccessToken, "no kid")
	})
	t.Run("empty_kid", func(t *testing.T) {
		rejects(t, f.keys, signWithHeader(t, f.keys, kid, `{"alg":"ES256","kid":"","typ":"at+jwt"}`, p), TypeAccessToken, "empty kid")
	})
	t.Run("kid_case_changed", func(t *testing.T) {
		h := `{"alg":"ES256","kid":"` + strings.ToUpper(kid) + `","typ":"at+jwt"}`
		if strings.ToUpper(kid) != kid {
			rejects(t, f.keys, signWithHeader(t, f.keys, kid, h, p), TypeAccessToken, "kid in other case")
		}
	})
}

// TestRFC7515_5_2_SignatureMismatch: any change to the signed bytes, or a
// signature taken from another token, fails verification.
func TestRFC7515_5_2_SignatureMismatch(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			tok := mustSign(t, f.keys, testClaims(f.clk.Now()))
			parts := strings.Split(tok, ".")
			c := testClaims(f.clk.Now())
			c.Scope += " admin"
			forged := seg(mustJSON(t, c))
			otherTok := mustSign(t, f.keys, testClaims(f.clk.Now().Add(time.Second)))
			otherSig := otherTok[strings.LastIndexByte(otherTok, '.')+1:]
			sig, _ := b64.DecodeString(parts[2])
			flipped := append([]byte(nil), sig...)
			flipped[len(flipped)/2] ^= 0x80
			tests := map[string]string{
				"payload_replaced":     parts[0] + "." + forged + "." + parts[2],
				"signature_of_another": parts[0] + "." + parts[1] + "." + otherSig,
				"signature_bit_flip":   parts[0] + "." + parts[1] + "." + b64.EncodeToString(flipped),
				"signature_truncated":  parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig[:len(sig)-1]),
				"signature_extended":   parts[0] + "." + parts[1] + "." + b64.EncodeToString(append(sig, 0)),
				"signature_zero":       parts[0] + "." + parts[1] + "." + b64.EncodeToString(make([]byte, len(sig))),
			}
			for name, bad := range tests {
				t.Run(name, func(t *testing.T) { rejects(t, f.keys, bad, TypeAccessToken, name) })
			}
			accepts(t, f.keys, tok, TypeAccessToken)
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRFC7515_4_1_11_CritRejected: "crit" names extensions that must be
// understood; Latchkey uses none, so any crit header (even one go-jose
// supports, b64) is refused.
func TestRFC7515_4_1_11_CritRejected(t *testing.T) {
	f := newFixture(t, ES256)
	kid := activeKid(t, f.keys)
	p := payloadOf(t, f.clk.Now())
	base := `"alg":"ES256","kid":"` + kid + `","typ":"at+jwt"`
	for name, h := range map[string]string{
		"crit_exp":       `{` + base + `,"crit":["exp"],"exp":1}`,
		"crit_empty":     `{` + base + `,"crit":[]}`,
		"crit_b64":       `{` + base + `,"crit":["b64"],"b64":true}`,
		"crit_first":     `{"crit":["x"],` + base + `,"x":1}`,
		"crit_string":    `{` + base + `,"crit":"exp"}`,
		"crit_null":      `{` + base + `,"crit":null}`,
		"b64_false_only": `{` + base + `,"b64":false}`,
	} {
		t.Run(name, func(t *testing.T) { rejects(t, f.keys, signWithHeader(t, f.keys, kid, h, p), TypeAccessToken, name) })
	}
}

// TestRFC7515_4_1_StrictHeader: the protected header is a flat object of
// exactly alg, kid and typ; keys embedded or referenced by the token
// (jwk, jku, x5c, x5u) are never used, and are refused outright.
func TestRFC7515_4_1_StrictHeader(t *testing.T) {
	f := newFixture(t, ES256)
	kid := activeKid(t, f.keys)
	p := payloadOf(t, f.clk.Now())
	base := `"alg":"ES256","kid":"` + kid + `","typ":"at+jwt"`
	for name, h := range map[string]string{
		"jwk":           `{` + base + `,"jwk":{"kty":"EC"}}`,
		"jku":           `{` + base + `,"jku":"https://evil.example/jwks"}`,
		"x5u":           `{` + base + `,"x5u":"https://evil.example/cert"}`,
		"x5c":           `{` + base + `,"x5c":["MIIB"]}`,
		"cty":           `{` + base + `,"cty":"JWT"}`,
		"unknown":       `{` + base + `,"zip":"DEF"}`,
		"duplicate_alg": `{"alg":"none",` + base + `}`,
		"duplicate_kid": `{` + base + `,"kid":"` + kid + `"}`,
		"duplicate_typ": `{"typ":"JWT",` + base + `}`,
		"alg_number":    `{"alg":256,"kid":"` + kid + `","typ":"at+jwt"}`,
		"alg_array":     `{"alg":["ES256"],"kid":"` + kid + `","typ":"at+jwt"}`,
		"kid_object":    `{"alg":"ES256","kid":{"id":"` + kid + `"},"typ":"at+jwt"}`,
		"no_alg":        `{"kid":"` + kid + `","typ":"at+jwt"}`,
		"array":         `["ES256"]`,
		"string":        `"ES256"`,
		"trailing_data": `{` + base + `}{}`,
		"trailing_junk": `{` + base + `}x`,
		"unterminated":  `{` + base,
		"empty_object":  `{}`,
		"deep_nesting":  `{` + base + `,"x":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`,
	} {
		t.Run(name, func(t *testing.T) { rejects(t, f.keys, signWithHeader(t, f.keys, kid, h, p), TypeAccessToken, name) })
	}
	t.Run("whitespace_and_member_order_are_fine", func(t *testing.T) {
		h := " {\n \"typ\" : \"at+jwt\" , \"kid\":\"" + kid + "\",\"alg\":\"ES256\"}\n"
		accepts(t, f.keys, signWithHeader(t, f.keys, kid, h, p), TypeAccessToken)
	})
}

// TestRFC7515_7_1_CompactShape: exactly three segments of canonical
// unpadded base64url; JSON serialization, padding, the standard alphabet,
// whitespace and non-canonical trailing bits are refused before parsing.
func TestRFC7515_7_1_CompactShape(t *testing.T) {
	f := newFixture(t, ES256)
	tok := mustSign(t, f.keys, testClaims(f.clk.Now()))
	parts := strings.Split(tok, ".")
	h, p, s := parts[0], parts[1], parts[2]
	sig, _ := b64.DecodeString(s)
	// A non-canonical spelling of the same signature: set unused low bits.
	last := s[len(s)-1]
	nonCanonical := s[:len(s)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[b64Value(last)|1])
	jsonSer := `{"protected":"` + h + `","payload":"` + p + `","signature":"` + s + `"}`
	tests := map[string]string{
		"empty":                     "",
		"one_segment":               h,
		"two_segments":              h + "." + p,
		"four_segments":             tok + "." + s,
		"five_segments":             tok + ".." + s,
		"trailing_dot":              tok + ".",
		"leading_dot":               "." + tok,
		"empty_header":              "." + p + "." + s,
		"empty_payload":             h + ".." + s,
		"empty_signature":           h + "." + p + ".",
		"json_serialization":        jsonSer,
		"padding":                   h + "." + p + "." + base64.URLEncoding.EncodeToString(sig),
		"std_alphabet":              h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s) + "+/",
		"newline_inside":            h + "." + p[:10] + "\n" + p[10:] + "." + s,
		"carriage_return":           h + ".\r" + p + "." + s,
		"leading_space":             " " + tok,
		"trailing_newline":          tok + "\n",
		"non_canonical_trailing":    h + "." + p + "." + nonCanonical,
		"impossible_length":         h + "." + p + "." + s + "A",
		"nul_byte":                  tok + "\x00",
		"utf8":                      h + "." + p + "é." + s,
		"header_too_large":          seg(`{"alg":"ES256","kid":"`+strings.Repeat("k", 1000)+`","typ":"at+jwt"}`) + "." + p + "." + s,
		"bearer_prefix":             "Bearer " + tok,
		"percent_encoded_separator": h + "%2E" + p + "." + s,
	}
	if nonCanonical == s {
		t.Fatal("test bug: the non-canonical spelling equals the original")
	}
	for name, bad := range tests {
		t.Run(name, func(t *testing.T) { rejects(t, f.keys, bad, TypeAccessToken, name) })
	}
	accepts(t, f.keys, tok, TypeAccessToken)
}

// TestF6_OversizeRejectedQuickly: a token over MaxTokenSize, such as a
// megabyte of dots (CVE-2025-30204 class), is refused before any parsing:
// no allocation, microseconds.
func TestF6_OversizeRejectedQuickly(t *testing.T) {
	f := newFixture(t, ES256)
	dots := strings.Repeat(".", 1<<20)
	var c AccessClaims
	if n := testing.AllocsPerRun(100, func() { _ = f.keys.Verify(dots, TypeAccessToken, &c) }); n != 0 {
		t.Errorf("1 MiB of dots: %v allocations per Verify, want 0", n)
	}
	start := time.Now()
	for range 1000 {
		if err := f.keys.Verify(dots, TypeAccessToken, &c); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("1 MiB of dots: %v", err)
		}
	}
	if d := time.Since(start) / 1000; d > 50*time.Microsecond {
		t.Errorf("1 MiB of dots takes %v per Verify: it is being scanned or parsed", d)
	}
	// Just under the limit, dots are refused at the third one.
	small := strings.Repeat(".", MaxTokenSize)
	if n := testing.AllocsPerRun(100, func() { _ = f.keys.Verify(small, TypeAccessToken, &c) }); n > 2 {
		t.Errorf("%d dots: %v allocations per Verify", MaxTokenSize, n)
	}

	t.Run("payload_limit_is_exact", func(t *testing.T) {
		// A genuine token with the largest payload allowed verifies; a
		// larger payload is refused before decoding.
		kid := activeKid(t, f.keys)
		hdr := `{"alg":"ES256","kid":"` + kid + `","typ":"at+jwt"}`
		fits := func(n int) string {
			cl := testClaims(f.clk.Now())
			cl.Scope = strings.Repeat("s", n)
			return signWithHeader(t, f.keys, kid, hdr, []byte(mustJSON(t, cl)))
		}
		payloadLen := func(tok string) int { return len(strings.Split(tok, ".")[1]) }
		lo, hi := 0, maxPayloadLen
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if payloadLen(fits(mid)) <= maxPayloadLen {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		largest := fits(lo)
		if payloadLen(largest) < maxPayloadLen-3 {
			t.Fatalf("test bug: largest payload is %d characters", payloadLen(largest))
		}
		accepts(t, f.keys, largest, TypeAccessToken)
		rejects(t, f.keys, fits(lo+3), TypeAccessToken, "payload over maxPayloadLen")
	})
}

// TestF6_BoundedAllocation: no input up to 1 MiB makes Verify allocate
// more than 64 KiB (SECURITY.md F6).
func TestF6_BoundedAllocation(t *testing.T) {
	f := newFixture(t, ES256)
	kid := activeKid(t, f.keys)
	tok := mustSign(t, f.keys, testClaims(f.clk.Now()))
	parts := strings.Split(tok, ".")
	b64Junk := func(n int) string { return strings.Repeat("A", n) }
	inputs := map[string]string{
		"1MiB_dots":             strings.Repeat(".", 1<<20),
		"1MiB_base64":           b64Junk(1 << 20),
		"16KiB_dots":            strings.Repeat(".", MaxTokenSize),
		"16KiB_three_segments":  b64Junk(4000) + "." + b64Junk(8000) + "." + b64Junk(4000),
		"16KiB_payload":         parts[0] + "." + b64Junk(MaxTokenSize-len(parts[0])-len(parts[2])-2) + "." + parts[2],
		"deep_header":           seg(`{"x":`+strings.Repeat("[", 700)) + "." + parts[1] + "." + parts[2],
		"header_many_members":   seg(strings.Repeat(`{"a":"b",`, 80)) + "." + parts[1] + "." + parts[2],
		"16KiB_signature":       parts[0] + "." + parts[1] + "." + b64Junk(MaxTokenSize-len(parts[0])-len(parts[1])-2),
		"valid_token":           tok,
		"valid_header_big_body": seg(`{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`) + "." + b64Junk(maxPayloadLen) + "." + parts[2],
	}
	var c AccessClaims
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			got := heapPerCall(func() { _ = f.keys.Verify(in, TypeAccessToken, &c) })
			if got > allocBound {
				t.Errorf("Verify allocates %d bytes per call on %d input bytes, want < %d", got, len(in), allocBound)
			}
			t.Logf("%d input bytes: %d bytes allocated per Verify", len(in), got)
		})
	}
}

// heapPerCall returns the bytes fn allocates per call, averaged over
// several calls after a warm-up.
func heapPerCall(fn func()) uint64 {
	const n = 50
	fn()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		fn()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / n
}

// TestVerify_ClaimsErrors: a genuine token whose payload does not fit the
// claims type is an ErrInvalidToken too.
func TestVerify_ClaimsErrors(t *testing.T) {
	f := newFixture(t, ES256)
	kid := activeKid(t, f.keys)
	tok := signWithHeader(t, f.keys, kid, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`, []byte(`{"exp":"tomorrow"}`))
	var c AccessClaims
	if err := f.keys.Verify(tok, TypeAccessToken, &c); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify = %v, want ErrInvalidToken", err)
	}
	tok = signWithHeader(t, f.keys, kid, `{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt"}`, []byte(`{"aud":7}`))
	if err := f.keys.Verify(tok, TypeAccessToken, &c); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify(aud number) = %v, want ErrInvalidToken", err)
	}
}
