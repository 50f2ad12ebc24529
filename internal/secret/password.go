package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommended m=19 MiB, t=2, p=1.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// ErrMalformedHash is returned for a stored hash Latchkey cannot read.
var ErrMalformedHash = errors.New("secret: malformed hash")

// HashPassword returns an argon2id PHC string for a user password or an
// imported client secret.
func HashPassword(password string) string {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword reports whether password matches the argon2id PHC string.
func CheckPassword(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	// Bounds on stored parameters: one hostile hash must not make every
	// check allocate gigabytes (256 MiB and 16 lanes at most).
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<18 || t == 0 || t > 16 || p == 0 || p > 16 {
		return false, ErrMalformedHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformedHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, ErrMalformedHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked against when a username does not exist, so that a
// failed login costs the same whether or not the user exists.
var dummyHash = HashPassword("latchkey-dummy-password")

// DummyPasswordHash returns the argon2id verifier no password matches
// (checked for unknown users and unknown client ids).
func DummyPasswordHash() string { return dummyHash }

// BurnPasswordCheck spends the time of one password check and returns false.
func BurnPasswordCheck(password string) bool {
	_, _ = CheckPassword(dummyHash, password)
	return false
}

// HashClientSecret returns the stored verifier of a Latchkey-generated client
// secret: SHA-256 is enough for 256 random bits and costs microseconds.
func HashClientSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// HashImportedSecret returns the stored verifier of a client secret chosen
// outside Latchkey, whose entropy is unknown: argon2id.
func HashImportedSecret(s string) string {
	return HashPassword(s)
}

// CheckClientSecret verifies a presented client secret against its stored
// verifier in constant time.
func CheckClientSecret(stored, presented string) bool {
	if hexSum, ok := strings.CutPrefix(stored, "sha256:"); ok {
		sum := sha256.Sum256([]byte(presented))
		return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(hexSum)) == 1
	}
	if strings.HasPrefix(stored, "$argon2id$") {
		ok, err := CheckPassword(stored, presented)
		return err == nil && ok
	}
	return false
}
