// Package testenv decides what a test does when this machine lacks
// something it needs (PostgreSQL, Chromium, node): outside CI the test is
// skipped with the reason, so `go test -v` shows SKIP and why; in CI, which
// must run every suite, it fails. It is for tests only.
package testenv

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// CIVar names the environment variable CI systems set.
const CIVar = "CI"

// InCI reports whether CI is set to a truthy value: anything
// strconv.ParseBool takes as true ("1", "t", "true", "TRUE", ...) or "yes"
// in any case. Unset, empty, false and anything else is not CI.
func InCI() bool {
	v := strings.TrimSpace(os.Getenv(CIVar))
	if strings.EqualFold(v, "yes") {
		return true
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// Missing ends t because reason (what is missing, and how to provide it)
// keeps it from running: t.Fatal in CI, where no suite may be skipped, and
// t.Skip elsewhere. It does not return.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s; %s=%s: CI must run this test", reason, CIVar, os.Getenv(CIVar))
	}
	t.Skipf("NOTICE: %s; test skipped (with a truthy %s it fails instead)", reason, CIVar)
}

// SkipIfShort skips t under -short, which the mutation script
// (scripts/mutation.sh) uses for its thousands of runs: what needs
// PostgreSQL, Chromium or node there is checked on SQLite and by plain HTTP
// tests, and every suite still runs in full without -short (CI).
func SkipIfShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: %s skipped", what)
	}
}
