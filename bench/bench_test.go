package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	mrand "math/rand/v2"
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
			opts, err := parseFlags([]string{"-quick", "-d", "300ms", "-warmup", "100ms", "-c", "4", "-tokens", "16", "-stored", "5000",
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
			if want := append(scenarioNames(), "ref-bare@end", "ref-jwt@end", "ref-api@end"); !slices.Equal(names, want) {
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
				case "cc-jwt", "ref-bare", "ref-jwt", "jwks", "metadata", "ref-api", "rs-jwt":
					if r.QueriesOp > 0.05 {
						t.Errorf("%s: %.2f queries per request, want none", r.Name, r.QueriesOp)
					}
				case "cc-opaque", "cc-dpop", "introspect-opaque", "introspect-1m", "introspect-jwt", "introspect-jwt-cold": // a JWT's jti is looked up too; a proof's jti is written (on SQLite, in the server's first minute, where -quick runs)
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
			// The total CPU per operation adds the database backends' on
			// PostgreSQL, when they could be measured.
			if backend == "postgres" && rep.DBNote != "" {
				t.Logf("NOTICE: the PostgreSQL backends' CPU was not measured: %s", rep.DBNote)
			}
			for _, r := range rep.Results {
				measured := r.DBCPUPerOp >= 0
				switch {
				case backend == "sqlite" && (measured || r.ServerOnly || r.TotalCPU != r.CPUPerReq):
					t.Errorf("%s on SQLite: db %v, server only %v, total %v, srv %v", r.Name, r.DBCPUPerOp, r.ServerOnly, r.TotalCPU, r.CPUPerReq)
				case backend == "postgres" && measured && (r.ServerOnly || r.TotalCPU != r.CPUPerReq+r.DBCPUPerOp):
					t.Errorf("%s on PostgreSQL: total %v, want srv %v + db %v", r.Name, r.TotalCPU, r.CPUPerReq, r.DBCPUPerOp)
				case backend == "postgres" && !measured && (!r.ServerOnly || rep.DBNote == ""):
					t.Errorf("%s on PostgreSQL: db CPU not measured, but not flagged (server only %v, note %q)", r.Name, r.ServerOnly, rep.DBNote)
				// The backends' CPU is read in clock ticks (10 ms): a loaded
				// machine's few hundred INSERTs may not fill one.
				case backend == "postgres" && r.Name == "cc-opaque" && measured && r.DBCPUPerOp <= 0 && r.Requests >= 1000:
					t.Errorf("cc-opaque on PostgreSQL: db CPU %v per INSERT", r.DBCPUPerOp)
				}
			}
			// Memory: idle, before the cc scenarios (rs-jwt ran since
			// jwks), after every Latchkey scenario; the tokens issued
			// only by cc-jwt and cc-opaque; the peak at least the RSS.
			var whens []string
			for _, m := range rep.Memory {
				whens = append(whens, m.When)
				if m.RSS <= 0 || m.PeakRSS < m.RSS || m.HeapAlloc == 0 {
					t.Errorf("memory %s: RSS %d, peak %d, heap %d", m.When, m.RSS, m.PeakRSS, m.HeapAlloc)
				}
			}
			wantMem := []string{"idle", "after metadata", "after jwks", "before cc-jwt/cc-opaque", "after cc-jwt", "after cc-dpop", "after cc-opaque",
				"after introspect-opaque", "after introspect-1m", "after introspect-jwt", "after introspect-jwt-cold", "after refresh",
				"after sso-code-flow", "after sso-code-flow-es256"}
			if !slices.Equal(whens, wantMem) {
				t.Errorf("memory points: %v, want %v", whens, wantMem)
			} else {
				issued := func(name string) int64 {
					return rep.Results[slices.IndexFunc(rep.Results, func(r result) bool { return r.Name == name })].Issued
				}
				ccIssued := issued("cc-jwt") + issued("cc-dpop") + issued("cc-opaque")
				if m := rep.Memory; m[0].Issued != 0 || m[3].Issued != 0 || m[6].Issued != ccIssued || m[len(m)-1].Issued != ccIssued {
					t.Errorf("tokens issued at the memory points: %+v, want 0 before the cc scenarios and %d after", m, ccIssued)
				}
			}
			// The memory bounds are checked, whether met or not.
			var vnames []string
			for _, v := range verdicts(rep) {
				vnames = append(vnames, v.Name)
			}
			for _, want := range []string{"idle RSS", "peak RSS", "introspect-1m", "refresh"} {
				if !slices.Contains(vnames, want) {
					t.Errorf("no target checked for %s: %v", want, vnames)
				}
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

// TestJWTCacheConstants holds the benchmark's copy of the verified-JWT
// cache's size against internal/oauth/jwtcache.go, and its eviction (the
// whole map cleared when full) which coldTokens relies on.
func TestJWTCacheConstants(t *testing.T) {
	src, err := os.ReadFile("../internal/oauth/jwtcache.go")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "jwtcache.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if name.Name != "verifiedMax" || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok {
				t.Fatalf("verifiedMax is not a literal: update jwtCacheMax by hand and this test")
			}
			v := constant.MakeFromLiteral(lit.Value, lit.Kind, 0)
			if n, ok := constant.Int64Val(v); !ok || n != jwtCacheMax {
				t.Errorf("internal/oauth verifiedMax = %s, bench's jwtCacheMax = %d: update it (and README.md)", lit.Value, jwtCacheMax)
			}
			found = true
		}
		return true
	})
	if !found {
		t.Error("no verifiedMax in internal/oauth/jwtcache.go: check what introspect-jwt-cold must do to miss the cache")
	}
	if !bytes.Contains(src, []byte("clear(c.m)")) {
		t.Error("the verified-JWT cache no longer clears its map when full: check that coldTokens still guarantees misses")
	}
	if coldTokens <= jwtCacheMax+64 {
		t.Errorf("coldTokens %d leaves no margin over the cache's %d", coldTokens, jwtCacheMax)
	}
}

// TestColdOrderMissesCache replays introspect-jwt-cold's round-robin
// against the verified-JWT cache's policy (at most jwtCacheMax entries, all
// dropped when a new one arrives at that size; the one-minute life can only
// add misses), with each request reaching the server up to 200 places later
// than it was handed out (concurrent connections reorder them): no request
// may find its token cached. With jwtCacheMax tokens, most would.
func TestColdOrderMissesCache(t *testing.T) {
	hits := func(n, rounds, jitter int) int {
		rng := mrand.New(mrand.NewPCG(1, 2))
		type req struct{ key, tok int }
		reqs := make([]req, n*rounds)
		for i := range reqs {
			reqs[i] = req{key: i + rng.IntN(jitter+1), tok: i % n}
		}
		slices.SortStableFunc(reqs, func(a, b req) int { return a.key - b.key })
		cache := map[int]bool{}
		h := 0
		for _, r := range reqs {
			if cache[r.tok] {
				h++
				continue
			}
			if len(cache) >= jwtCacheMax {
				clear(cache)
			}
			cache[r.tok] = true
		}
		return h
	}
	if h := hits(coldTokens, 5, 200); h != 0 {
		t.Errorf("%d of %d requests of introspect-jwt-cold would hit the cache", h, 5*coldTokens)
	}
	if h := hits(jwtCacheMax, 3, 200); h < jwtCacheMax {
		t.Errorf("the replay is not sensitive: %d hits with only jwtCacheMax tokens", h)
	}
}

func TestAccountBackends(t *testing.T) {
	for _, c := range []struct {
		name      string
		prev, cur map[int]int64
		add, gone int64
	}{
		{"same backends", map[int]int64{1: 100, 2: 200}, map[int]int64{1: 150, 2: 260}, 110, 0},
		{"a new backend counts whole", map[int]int64{1: 100}, map[int]int64{1: 150, 3: 40}, 90, 0},
		{"an exited one is not subtracted", map[int]int64{1: 100, 2: 500}, map[int]int64{1: 150}, 50, 1},
		{"a reused pid counts whole", map[int]int64{1: 100}, map[int]int64{1: 30}, 30, 0},
		{"none", nil, map[int]int64{}, 0, 0},
	} {
		add, gone := accountBackends(c.prev, c.cur)
		if add != c.add || gone != c.gone {
			t.Errorf("%s: add %d, gone %d; want %d, %d", c.name, add, gone, c.add, c.gone)
		}
	}
}

func TestScenarioErrors(t *testing.T) {
	if err := scenarioErrors([]result{{Name: "a"}, {Name: "b"}}); err != nil {
		t.Errorf("no errors: %v", err)
	}
	err := scenarioErrors([]result{{Name: "a"}, {Name: "b", Errors: 3, FirstError: "HTTP 500"}, {Name: "c", Errors: 1, FirstError: "EOF"}})
	if err == nil || !strings.Contains(err.Error(), "b (3, first: HTTP 500)") || !strings.Contains(err.Error(), "c (1, first: EOF)") || strings.Contains(err.Error(), "a (") {
		t.Errorf("got %v", err)
	}
}

// TestSetRatiosUsesTotalCPU: on PostgreSQL the cpu ratio compares the
// server's and the database backends' CPU together.
func TestSetRatiosUsesTotalCPU(t *testing.T) {
	rs := []result{
		{Name: "ref-bare", RPS: 100, CPUPerReq: 20, TotalCPU: 20},
		{Name: "x", Ref: "ref-bare", RPS: 50, CPUPerReq: 40, DBCPUPerOp: 40, TotalCPU: 80},
		{Name: "ref-bare@end", RPS: 100, CPUPerReq: 20, TotalCPU: 20},
	}
	setRatios(rs)
	if rs[1].Ratio != 0.5 || rs[1].CPURatio != 0.25 {
		t.Errorf("ratio %v, cpu ratio %v; want 0.5, 0.25", rs[1].Ratio, rs[1].CPURatio)
	}
}

// TestPGMonitor measures the backends of a fresh database on a local
// PostgreSQL, and measures nothing (with a reason) when the backends are
// not local processes serving it: here, when it looks for another
// database's name in their process titles.
func TestPGMonitor(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	dsn, drop, err := createPostgresDB(ctx, testpg.AdminDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	m, err := newPGMonitor(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.db.Close() })
	other, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	other.SetMaxOpenConns(1)
	if err := other.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	s0 := m.sample(ctx)
	if s0.note != "" {
		t.Skipf("NOTICE: PostgreSQL's backends are not measurable from here (%s); the benchmark prints \"-\"", s0.note)
	}
	var n int
	if err := other.QueryRowContext(ctx, "SELECT count(*) FROM generate_series(1, 3000000)").Scan(&n); err != nil {
		t.Fatal(err)
	}
	s1 := m.sample(ctx)
	if s1.note != "" || s1.ns-s0.ns < int64(10*time.Millisecond) {
		t.Errorf("after a busy query: %v of backend CPU (note %q), want at least 10ms", time.Duration(s1.ns-s0.ns), s1.note)
	}
	m.dbName = "not_" + m.dbName
	if s := m.sample(ctx); s.note == "" || !strings.Contains(s.note, "not a local process") {
		t.Errorf("with backends of another database: note %q", s.note)
	}
}

// TestReportMarksServerOnly: on PostgreSQL without the backends' CPU, the
// report says why and stars the totals and cpu ratios that lack it.
func TestReportMarksServerOnly(t *testing.T) {
	rep := &report{Backend: "postgres", DBNote: "cannot read /proc/42/stat", Results: []result{
		{Name: "ref-bare", RPS: 100, CPUPerReq: 20e3, TotalCPU: 20e3, DBCPUPerOp: -1, ServerOnly: true},
		{Name: "cc-opaque", Ref: "ref-bare", RPS: 10, CPUPerReq: 200e3, TotalCPU: 200e3, DBCPUPerOp: -1, ServerOnly: true, Errors: 2, FirstError: "HTTP 500"},
	}}
	setRatios(rep.Results)
	var out bytes.Buffer
	printReport(&out, options{}, rep, "", "")
	got := out.String()
	for _, want := range []string{"200.0*", "0.10*", "db µs/op not measured (cannot read /proc/42/stat)", "ERRORS: errors in 1 scenario(s): cc-opaque (2, first: HTTP 500)"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

// TestVerdicts checks the targets against a run with known figures: the
// backend's own targets only, introspect-1m against introspect-opaque,
// and the memory bounds at the idle and the last point.
func TestVerdicts(t *testing.T) {
	results := []result{
		{Name: "ref-bare", RPS: 1000},
		{Name: "cc-opaque", Ref: "ref-bare", RPS: 280},           // 0.28: met on SQLite (0.25), not on PostgreSQL (0.30)
		{Name: "introspect-opaque", Ref: "ref-bare", RPS: 500},   // 0.5: not met on SQLite (0.55), met on PostgreSQL (0.45)
		{Name: "introspect-1m", Ref: "ref-bare", RPS: 460},       // 0.92 of introspect-opaque
		{Name: "refresh", Ref: "ref-bare", RPS: 140},             // 0.14 < 0.15
		{Name: "sso-code-flow", Ref: "ref-bare", RPS: 60},        // 0.06 but 60 flows/s < 100
		{Name: "sso-code-flow-es256", Ref: "ref-bare", RPS: 120}, // 0.12 and 120 flows/s
	}
	setRatios(results)
	memory := []memPoint{
		{When: "idle", memStats: memStats{RSS: 20 << 20, PeakRSS: 40 << 20}},
		{When: "after cc-opaque", Issued: 5000, memStats: memStats{RSS: 50 << 20, PeakRSS: 80 << 20}},
		{When: "after refresh", Issued: 5000, memStats: memStats{RSS: 60 << 20, PeakRSS: 90 << 20}},
	}
	type key struct{ name, want string }
	check := func(backend string, rep *report, want map[key]bool) {
		t.Helper()
		got := map[key]bool{}
		for _, v := range verdicts(rep) {
			// the bound, without what the run got
			bound, _, _ := strings.Cut(v.Want, " (got")
			if _, dup := got[key{v.Name, bound}]; dup {
				t.Errorf("%s: %s %s twice", backend, v.Name, bound)
			}
			got[key{v.Name, bound}] = v.Met
		}
		for k, met := range want {
			if g, ok := got[k]; !ok {
				t.Errorf("%s: no target %s %s in %v", backend, k.name, k.want, got)
			} else if g != met {
				t.Errorf("%s: %s %s met %v, want %v", backend, k.name, k.want, g, met)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: targets %v, want %v", backend, got, want)
		}
	}
	common := map[key]bool{
		{"introspect-1m", "ops/s >= 0.9 x introspect-opaque"}: true,
		{"refresh", "ratio >= 0.15"}:                          false,
		{"sso-code-flow", "ratio >= 0.05"}:                    true,
		{"sso-code-flow", ">= 100 ops/s"}:                     false,
		{"sso-code-flow-es256", "ratio >= 0.05"}:              true,
		{"sso-code-flow-es256", ">= 100 ops/s"}:               true,
		{"cc-opaque", ">= 500 ops/s"}:                         false,
		{"introspect-opaque", "ratio >= 0.1"}:                 false, // and >= 2000 ops/s: 500
		{"idle RSS", "<= 30 MiB"}:                             true,
		{"peak RSS", "<= 100 MiB"}:                            true, // VmHWM at the last point, 90 MiB
	}
	with := func(m map[key]bool) map[key]bool {
		for k, v := range common {
			m[k] = v
		}
		return m
	}
	check("sqlite", &report{Backend: "sqlite", Results: results, Memory: memory}, with(map[key]bool{
		{"cc-opaque", "ratio >= 0.25"}:         true,
		{"introspect-opaque", "ratio >= 0.55"}: false,
	}))
	check("postgres", &report{Backend: "postgres", Results: results, Memory: memory}, with(map[key]bool{
		{"cc-opaque", "ratio >= 0.3"}:          false,
		{"introspect-opaque", "ratio >= 0.45"}: true,
	}))
	// The ratio of the code flows shows two significant digits.
	for _, v := range verdicts(&report{Backend: "sqlite", Results: results}) {
		if v.Name == "sso-code-flow" && strings.HasPrefix(v.Want, "ratio") && v.Want != "ratio >= 0.05 (got 0.06 vs ref-bare)" {
			t.Errorf("sso-code-flow: %q", v.Want)
		}
	}

	// Without introspect-opaque, introspect-1m has no target; a peak over
	// the bound, or an idle RSS over it, is not met; no RSS read (not
	// Linux), no memory target.
	rep := &report{Backend: "sqlite", Results: []result{{Name: "ref-bare", RPS: 1000}, {Name: "introspect-1m", Ref: "ref-bare", RPS: 900}},
		Memory: []memPoint{{When: "idle", memStats: memStats{RSS: 31 << 20, PeakRSS: 31 << 20}}, {When: "after introspect-1m", memStats: memStats{RSS: 60 << 20, PeakRSS: 101 << 20}}}}
	check("sqlite, alone", rep, map[key]bool{{"idle RSS", "<= 30 MiB"}: false, {"peak RSS", "<= 100 MiB"}: false})
	rep.Memory = []memPoint{{When: "idle"}, {When: "after introspect-1m"}}
	check("sqlite, no RSS", rep, map[key]bool{})

	// The report prints them.
	var out bytes.Buffer
	printReport(&out, options{}, &report{Backend: "sqlite", Results: results, Memory: memory}, "", "")
	for _, want := range []string{
		"NOT MET introspect-opaque   ratio >= 0.55 (got 0.50 vs ref-bare); issue: opaque introspection vs the bare handler",
		"met     introspect-1m       ops/s >= 0.9 x introspect-opaque (got 0.92)",
		"met     peak RSS            <= 100 MiB (got 90.0, VmHWM after refresh); issue: server memory",
		"peak RSS MiB",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
