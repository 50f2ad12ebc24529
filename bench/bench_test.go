package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testpg"
)

// TestMain lets this test binary be the benchmark's server child too.
func TestMain(m *testing.M) {
	if os.Getenv(envServe) == "1" {
		os.Exit(serveMain())
	}
	os.Exit(m.Run())
}

// TestQuickRun runs the whole benchmark briefly on each backend and checks
// that every scenario ran without a single error and that the report has
// every row. It asserts nothing about speed: figures belong in README.md,
// measured on a quiet machine, not in a test.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("the benchmark's smoke run takes a few seconds per backend")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			db := "sqlite"
			if backend == "postgres" {
				db = testpg.AdminDSN(t) // skips with a notice, or fails under CI=true
			}
			opts, err := parseFlags([]string{"-quick", "-d", "300ms", "-warmup", "100ms", "-c", "4", "-tokens", "16",
				"-db", db, "-dir", t.TempDir(), "-cpuprofile-scenario", "cc-jwt", "-cpuprofile-dir", t.TempDir()}, os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var out bytes.Buffer
			rep, err := run(ctx, opts, &out, os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("report:\n%s", out.String())
			if rep.Backend != backend {
				t.Errorf("backend %q, want %q", rep.Backend, backend)
			}
			var names []string
			for _, r := range rep.Results {
				names = append(names, r.Name)
				if r.Errors != 0 {
					t.Errorf("%s: %d errors, first: %s", r.Name, r.Errors, r.FirstError)
				}
				if r.Requests == 0 {
					t.Errorf("%s: no request completed in the measured window", r.Name)
				}
				if r.Ref != "" && !strings.HasSuffix(r.Name, endSuffix) && r.Ratio <= 0 {
					t.Errorf("%s: no ratio to %s", r.Name, r.Ref)
				}
			}
			if want := append(scenarioNames(), "ref-bare@end", "ref-jwt@end"); !slices.Equal(names, want) {
				t.Errorf("scenarios run: %v, want %v", names, want)
			}
			// Every row is in the printed table.
			lines := strings.Split(out.String(), "\n")
			for _, name := range scenarioNames() {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), name+" ") }) {
					t.Errorf("the table has no row %s", name)
				}
			}
			// The statement counter works: an opaque token is one INSERT,
			// a JWT none, an opaque introspection one SELECT.
			for _, r := range rep.Results {
				switch r.Name {
				case "cc-jwt", "ref-bare", "ref-jwt", "jwks", "metadata":
					if r.QueriesOp > 0.05 {
						t.Errorf("%s: %.2f queries per request, want none", r.Name, r.QueriesOp)
					}
				case "cc-opaque", "introspect-opaque":
					if r.QueriesOp < 0.9 {
						t.Errorf("%s: %.2f queries per request, want at least one", r.Name, r.QueriesOp)
					}
				case "sso-code-flow", "sso-code-flow-es256":
					// At least: the session, the auth request, the grant and
					// the code at /authorize; the code, the grant and its
					// redemption at /token.
					if r.QueriesOp < 6 {
						t.Errorf("%s: %.2f queries per flow, want at least 6", r.Name, r.QueriesOp)
					}
				}
			}
			if len(rep.Memory) != 3 {
				t.Errorf("memory points: %+v, want 3", rep.Memory)
			}
			i := slices.IndexFunc(rep.Results, func(r result) bool { return r.Name == "cc-jwt" })
			if p := rep.Results[i].Profile; p == "" {
				t.Error("no CPU profile for cc-jwt")
			} else if st, err := os.Stat(p); err != nil || st.Size() == 0 {
				t.Errorf("CPU profile %s: %v", p, err)
			}
		})
	}
}

func TestQueryParam(t *testing.T) {
	q := []byte("code=lk_ac_abc&state=xyz&iss=http%3A%2F%2F127.0.0.1%3A1&empty=")
	for _, c := range []struct{ name, want string }{
		{"code", "lk_ac_abc"}, {"state", "xyz"}, {"iss", "http%3A%2F%2F127.0.0.1%3A1"}, {"empty", ""}, {"missing", ""}, {"stat", ""},
	} {
		if got := queryParam(q, c.name); string(got) != c.want {
			t.Errorf("queryParam(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestJWTAlg(t *testing.T) {
	for _, c := range []struct{ jws, want string }{
		{"eyJhbGciOiJSUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJKV1QifQ.e30.sig", "RS256"}, // {"alg":"RS256","kid":"x","typ":"JWT"}
		{"eyJhbGciOiJFUzI1NiJ9.e30.sig", "ES256"},                               // {"alg":"ES256"}
		{"not a jwt", ""},
		{"!!!.e30.sig", ""},
	} {
		if got := jwtAlg(c.jws); got != c.want {
			t.Errorf("jwtAlg(%q) = %q, want %q", c.jws, got, c.want)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.02 || d > 0.02 {
			t.Errorf("q%.2f = %v, want %v within 2%%", c.q, got, c.want)
		}
	}
	for v := int64(0); v < 1<<20; v = v*5/4 + 1 {
		if b := bucketOf(v); bucketValue(b) < v/2 || b >= histBucket {
			t.Fatalf("value %d: bucket %d (value %d)", v, b, bucketValue(b))
		}
	}
}

func TestRawConnParsesChunked(t *testing.T) {
	// Exercised against net/http's chunked writer in the quick run only if a
	// handler streams; check the parser directly.
	srvConn, cliConn := netPipe(t)
	go func() {
		buf := make([]byte, 4096)
		srvConn.Read(buf)
		srvConn.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: z\r\n\r\n"))
	}()
	status, body, err := cliConn.roundTrip([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err != nil || status != 200 || string(body) != "hello world" {
		t.Fatalf("got %d %q %v", status, body, err)
	}
}

func netPipe(t *testing.T) (interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
}, *rawConn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, &rawConn{c: b, br: bufio.NewReader(b)}
}
