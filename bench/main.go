// Command bench is Latchkey's load benchmark. It starts a Latchkey server in
// a child process pinned to one core, drives it from this process pinned to
// another, and reports for each scenario the throughput, p50 and p99
// latency, the server's CPU time and SQL statements per request, and the
// ratio to a reference handler measured in the same run: a bare net/http
// token endpoint, and the same endpoint signing a JWT like Latchkey's (the
// floor of JWT issuance on this machine).
//
//	go run ./bench                 # SQLite, 16 connections, 10 s per scenario
//	go run ./bench -db 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
//	go run ./bench -quick          # 2 s per scenario (CI smoke)
//
// See bench/README.md for the flags, the columns and the figures.
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/dpop"
)

func main() {
	if os.Getenv(envServe) == "1" {
		os.Exit(serveMain())
	}
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if opts.pin {
		pinSelf(opts)
	}
	ctx, stop := contextWithSignals()
	defer stop()
	rep, err := run(ctx, opts, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	// A run with a failed operation measured something else than it says.
	if err := scenarioErrors(rep.Results); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// scenarioErrors names the scenarios that had errors, or is nil.
func scenarioErrors(results []result) error {
	var bad []string
	for _, r := range results {
		if r.Errors > 0 {
			bad = append(bad, fmt.Sprintf("%s (%d, first: %s)", r.Name, r.Errors, r.FirstError))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("errors in %d scenario(s): %s", len(bad), strings.Join(bad, "; "))
}

// options are the benchmark's flags.
type options struct {
	conns      int
	dur        time.Duration
	warmup     time.Duration
	quick      bool
	db         string
	dir        string
	alg        string
	scenarios  []string
	profile    []string
	profileDir string
	pin        bool
	serverCPU  int
	clientCPU  int
	genProcs   int
	tokens     int
	stored     int
	refsAgain  bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.conns, "c", 16, "concurrent keep-alive connections")
	fs.DurationVar(&o.dur, "d", 10*time.Second, "measured duration of each scenario")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured warm-up before each scenario")
	fs.BoolVar(&o.refsAgain, "refs-again", true, "measure the references again at the end of the run (ratios use the mean; the report shows the drift)")
	fs.BoolVar(&o.quick, "quick", false, "smoke mode: 2s per scenario and 200ms warm-up unless -d/-warmup are given")
	fs.StringVar(&o.db, "db", "sqlite", "sqlite (a fresh file in -dir), or an admin postgres:// DSN (a fresh database is created and dropped)")
	fs.StringVar(&o.dir, "dir", "", "directory of the SQLite database (default: the system temp dir)")
	fs.StringVar(&o.alg, "alg", "ES256", "signing algorithm of Latchkey and of the JWT reference: ES256, EdDSA or RS256")
	scen := fs.String("scenarios", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames(), ","))
	prof := fs.String("cpuprofile-scenario", "", "comma-separated scenarios whose server CPU profile is written (pprof)")
	fs.StringVar(&o.profileDir, "cpuprofile-dir", ".", "directory of the CPU profiles (cpu-BACKEND-SCENARIO.pprof)")
	fs.BoolVar(&o.pin, "pin", true, "pin the server to -server-cpu and this generator to -client-cpu (taskset), when there are 2 CPUs or more")
	fs.IntVar(&o.serverCPU, "server-cpu", 0, "CPU of the server process")
	fs.IntVar(&o.clientCPU, "client-cpu", 1, "CPU of the load generator")
	fs.IntVar(&o.genProcs, "gen-procs", 1, "GOMAXPROCS of the load generator")
	fs.IntVar(&o.stored, "stored", 1_000_000, "tokens stored (other clients' opaque tokens, written directly) before introspect-1m")
	fs.IntVar(&o.tokens, "tokens", 256, "tokens of each kind issued before introspect-opaque and introspect-jwt, introspected in turn (introspect-jwt-cold always uses "+strconv.Itoa(coldTokens)+")")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %q\n", fs.Args())
		return o, errors.New("usage")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["d"] {
			o.dur = 2 * time.Second
		}
		if !set["warmup"] {
			o.warmup = 200 * time.Millisecond
		}
	}
	o.scenarios = splitList(*scen)
	o.profile = splitList(*prof)
	known := scenarioNames()
	for _, s := range append(slices.Clone(o.scenarios), o.profile...) {
		if !slices.Contains(known, s) {
			fmt.Fprintf(stderr, "unknown scenario %q (known: %s)\n", s, strings.Join(known, ", "))
			return o, errors.New("usage")
		}
	}
	if o.conns < 1 || o.dur <= 0 || o.warmup < 0 || o.tokens < 1 || o.genProcs < 1 || o.stored < 1 {
		fmt.Fprintln(stderr, "-c, -d, -tokens, -stored and -gen-procs must be positive, -warmup not negative")
		return o, errors.New("usage")
	}
	return o, nil
}

func contextWithSignals() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// seedChunk is how many tokens one seed-tokens request of introspect-1m
// stores (a few seconds of SQLite's time).
const seedChunk = 20_000

// scenarioNames lists every scenario in the order they run.
func scenarioNames() []string {
	return []string{"ref-bare", "ref-jwt", "ref-api", "metadata", "jwks", "rs-jwt", "cc-jwt", "cc-dpop", "cc-opaque", "introspect-opaque", "introspect-1m", "introspect-jwt",
		"introspect-jwt-cold", "refresh", "sso-code-flow", "sso-code-flow-es256"}
}

// The verified-JWT cache of /introspect (internal/oauth/jwtcache.go, read by
// TestJWTCacheConstants): at most jwtCacheMax entries, the whole map cleared
// when a new one arrives at that size, each kept for a minute.
const jwtCacheMax = 10_000

// coldTokens is how many JWTs introspect-jwt-cold cycles through, in one
// round-robin shared by all connections. Between two requests for the same
// token the server verifies coldTokens-1 others; every one of them a miss
// inserted in the cache, which must then have been cleared at least once
// since that token went in (it holds jwtCacheMax). The margin over
// jwtCacheMax+1 covers the reordering of concurrent requests: a request
// handed out before another may reach the cache after it, by about the
// requests served while one is in flight (tens at this benchmark's p99),
// far fewer than the margin. TestColdOrderMissesCache replays the order
// against the cache's policy.
const coldTokens = jwtCacheMax + 1000

// result is one scenario's row.
type result struct {
	Name       string        `json:"name"`
	Ref        string        `json:"ref,omitempty"`
	Requests   int64         `json:"requests"` // operations in the measured window (one request each, but the code flows' two)
	Issued     int64         `json:"issued"`   // successful, warm-up included
	Errors     int64         `json:"errors"`
	FirstError string        `json:"first_error,omitempty"`
	Elapsed    time.Duration `json:"elapsed"`
	RPS        float64       `json:"rps"`
	P50        time.Duration `json:"p50"`
	P99        time.Duration `json:"p99"`
	CPUPerReq  time.Duration `json:"cpu_per_req"` // server CPU per operation
	ServerCPU  float64       `json:"server_cpu"`  // server CPU time / wall time
	GenCPU     float64       `json:"gen_cpu"`     // generator CPU time / wall time (-1: unknown)
	// Other is the CPU time, over wall time, that the machine spent busy
	// besides the server, the generator and (when measured) the bench
	// database's PostgreSQL backends: other processes, PostgreSQL's
	// background writers, softirq work (-1: unknown).
	Other      float64       `json:"other"`
	QueriesOp  float64       `json:"queries_per_op"`
	CommitsOp  float64       `json:"commits_per_op"` // database commits per operation: below 1, group commit shared them
	DBCPUPerOp time.Duration `json:"db_cpu_per_op"`  // PostgreSQL backends' CPU per operation (-1: not measured)
	DBExited   int64         `json:"db_exited"`      // backends that exited in the window (their last CPU is missing)
	// TotalCPU is the CPU per operation of the server and, on PostgreSQL,
	// of the database's backends: what cpu ratio compares. ServerOnly: on
	// PostgreSQL, the backends' CPU could not be measured, so TotalCPU is
	// the server's alone, and too low.
	TotalCPU   time.Duration `json:"total_cpu_per_op"`
	ServerOnly bool          `json:"total_cpu_server_only,omitempty"`
	Ratio      float64       `json:"ratio"`     // RPS / the reference's RPS (0: no reference)
	CPURatio   float64       `json:"cpu_ratio"` // the reference's TotalCPU / this one's (0: no reference)
	Profile    string        `json:"profile,omitempty"`
}

// memPoint is the server's memory at one point of the run: "idle" (after
// the child started, before any load), "before cc-jwt/cc-opaque", or
// "after" each Latchkey scenario.
type memPoint struct {
	When   string `json:"when"`
	Issued int64  `json:"issued"` // tokens issued by cc-jwt, cc-dpop and cc-opaque so far
	memStats
}

// report is everything a run measured.
type report struct {
	Backend string
	Child   childInfo
	Results []result
	Memory  []memPoint
	// DBNote says why the PostgreSQL backends' CPU was not measured in
	// some window ("" when it always was, and on SQLite).
	DBNote string
}

// run starts the server child, runs the scenarios and prints the report.
func run(ctx context.Context, o options, stdout, stderr io.Writer) (*report, error) {
	prev := runtime.GOMAXPROCS(o.genProcs)
	defer runtime.GOMAXPROCS(prev)

	load0 := loadAvg()
	child, err := startChild(ctx, o, stderr)
	if err != nil {
		return nil, err
	}
	defer child.stop()
	ready := time.Now()
	info := child.info
	rep := &report{Backend: info.Backend, Child: info}
	ctl := &http.Client{Timeout: 60 * time.Second}
	refHost, lkHost := info.Ref, info.Latchkey

	// The server's memory idle: read before any load, even the tokens
	// issued below, and recorded before the first Latchkey scenario.
	readMem := func() (memStats, bool) {
		var m memStats
		if err := getJSON(ctl, "http://"+refHost+"/bench/mem", &m); err != nil {
			fmt.Fprintln(stderr, "bench: memory:", err)
			return m, false
		}
		return m, true
	}
	idle, idleOK := readMem()

	basic := func(id string) string {
		return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(info.Secrets[id])))
	}
	ccBody := "grant_type=client_credentials&scope=" + benchScope

	// Tokens to introspect: issued once, before any scenario, through the
	// token endpoint.
	want := o.scenarios
	if len(want) == 0 {
		want = scenarioNames()
	}
	var opaqueTokens, jwtTokens, coldJWTs []string
	if slices.Contains(want, "introspect-opaque") || slices.Contains(want, "introspect-1m") {
		if opaqueTokens, err = issueTokens(lkHost, opaqueClientID, info.Secrets[opaqueClientID], o.tokens); err != nil {
			return nil, err
		}
	}
	if slices.Contains(want, "introspect-jwt") {
		if jwtTokens, err = issueTokens(lkHost, jwtClientID, info.Secrets[jwtClientID], o.tokens); err != nil {
			return nil, err
		}
	}
	if slices.Contains(want, "introspect-jwt-cold") {
		t0 := time.Now()
		if coldJWTs, err = issueTokens(lkHost, jwtClientID, info.Secrets[jwtClientID], coldTokens); err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "bench: issued %d JWTs for introspect-jwt-cold in %s\n", len(coldJWTs), time.Since(t0).Round(time.Millisecond))
	}

	// The rs scenarios send one JWT, as a client that keeps its token does.
	var apiToken string
	if slices.Contains(want, "ref-api") || slices.Contains(want, "rs-jwt") {
		if apiToken, err = issueToken(ctl, lkHost, jwtClientID, info.Secrets[jwtClientID]); err != nil {
			return nil, err
		}
	}

	// The code flows: the browser signs in and consents once, through the
	// real pages, before any load.
	flowRS := newCodeFlow(lkHost, ssoClientID, basic(ssoClientID), "RS256")
	flowES := newCodeFlow(lkHost, ssoES256ClientID, basic(ssoES256ClientID), "ES256")
	var flows []*codeFlow
	if slices.Contains(want, "sso-code-flow") {
		flows = append(flows, flowRS)
	}
	if slices.Contains(want, "sso-code-flow-es256") {
		flows = append(flows, flowES)
	}
	if len(flows) > 0 {
		cookies, err := signInAndConsent(ctx, lkHost, info.Secrets, flows...)
		if err != nil {
			return nil, err
		}
		for _, f := range flows {
			f.setCookies(lkHost, cookies)
		}
	}

	refBare := postHead(refHost, "/ref/bare", basic(jwtClientID))
	refJWT := postHead(refHost, "/ref/jwt", basic(jwtClientID))
	ccJWT := postHead(lkHost, "/token", basic(jwtClientID))
	ccOpaque := postHead(lkHost, "/token", basic(opaqueClientID))
	introOpaque := postHead(lkHost, "/introspect", basic(opaqueClientID))
	introJWT := postHead(lkHost, "/introspect", basic(jwtClientID))
	refreshHead := postHead(lkHost, "/token", basic(webClientID))
	metadata := getRequest(lkHost, "/.well-known/oauth-authorization-server")
	jwks := getRequest(lkHost, "/jwks.json")
	refAPI := bearerGet(refHost, "/ref/api", apiToken)
	rsAPI := bearerGet(refHost, "/rs/api", apiToken)
	static := func(head []byte, body string) func(*connState, []byte) []byte {
		req := appendPost(nil, head, body)
		return func(_ *connState, dst []byte) []byte { return append(dst, req...) }
	}
	get := func(req []byte) func(*connState, []byte) []byte {
		return func(_ *connState, dst []byte) []byte { return append(dst, req...) }
	}
	rotating := func(head []byte, tokens []string) func(*connState, []byte) []byte {
		return func(st *connState, dst []byte) []byte {
			return appendPost(dst, head, "token=", tokens[(st.idx*7919+st.iter)%len(tokens)])
		}
	}
	// cycling hands out tokens in one round-robin across all connections
	// (introspect-jwt-cold: see coldTokens).
	var cycle atomic.Uint64
	cycling := func(head []byte, tokens []string) func(*connState, []byte) []byte {
		return func(_ *connState, dst []byte) []byte {
			return appendPost(dst, head, "token=", tokens[(cycle.Add(1)-1)%uint64(len(tokens))])
		}
	}
	dpopProofs, err := newDPoPSigner("http://" + lkHost + "/token")
	if err != nil {
		return nil, err
	}
	ccDPoP := func(_ *connState, dst []byte) []byte {
		proof, err := dpopProofs.proof()
		if err != nil {
			panic(err) // crypto/rand failing
		}
		head := dpopPostHead(nil, lkHost, "/token", basic(jwtClientID), proof)
		return appendPost(dst, head, ccBody)
	}
	active := []byte(`"active":true`)
	hasToken := []byte(`"access_token":"`)
	all := []*scenario{
		{name: "ref-bare", build: static(refBare, ccBody), check: hasToken,
			what: "reference: form + Basic (SHA-256, constant time) + small JSON, plain net/http"},
		{name: "ref-jwt", ref: "ref-bare", build: static(refJWT, ccBody), check: hasToken,
			what: "reference: the same + an RFC 9068-shaped JWT signed with crypto/* (" + o.alg + ")"},
		{name: "ref-api", build: get(refAPI), check: []byte(`"notes"`),
			what: "reference: GET of a small JSON API answer, unprotected (the request carries rs-jwt's Authorization header, unread)"},
		{name: "metadata", ref: "ref-bare", latchkey: true, build: get(metadata), check: []byte(`"issuer"`),
			what: "GET /.well-known/oauth-authorization-server"},
		{name: "jwks", ref: "ref-bare", latchkey: true, build: get(jwks), check: []byte(`"keys"`),
			what: "GET /jwks.json"},
		{name: "rs-jwt", ref: "ref-api", build: get(rsAPI), check: []byte(`"notes"`),
			what: "the same API behind rs.Guard.Require(" + benchScope + "), one Latchkey JWT reused (verified-token cache hit)"},
		{name: "cc-jwt", ref: "ref-jwt", latchkey: true, build: static(ccJWT, ccBody), check: hasToken,
			what: "POST /token client_credentials, JWT access token (no DB write)"},
		{name: "cc-dpop", ref: "cc-jwt", latchkey: true, build: ccDPoP, check: []byte(`"token_type":"DPoP"`),
			what: "POST /token client_credentials with a DPoP proof (a fresh ES256 proof per request, verified, its jti used once: in memory on SQLite, written on PostgreSQL): a key-bound JWT"},
		{name: "cc-opaque", ref: "ref-bare", latchkey: true, build: static(ccOpaque, ccBody), check: hasToken,
			what: "POST /token client_credentials, opaque access token (one INSERT)"},
		{name: "introspect-opaque", ref: "ref-bare", latchkey: true, build: rotating(introOpaque, opaqueTokens), check: active,
			what: fmt.Sprintf("POST /introspect, %d opaque tokens in turn", len(opaqueTokens))},
		{name: "introspect-1m", ref: "ref-bare", latchkey: true, build: rotating(introOpaque, opaqueTokens), check: active,
			what: fmt.Sprintf("introspect-opaque's %d tokens among %d more stored", len(opaqueTokens), o.stored)},
		{name: "introspect-jwt", ref: "ref-bare", latchkey: true, build: rotating(introJWT, jwtTokens), check: active,
			what: fmt.Sprintf("POST /introspect, %d JWTs in turn (verified once, then from the verified-JWT cache)", len(jwtTokens))},
		{name: "introspect-jwt-cold", ref: "ref-bare", latchkey: true, build: cycling(introJWT, coldJWTs), check: active,
			what: fmt.Sprintf("POST /introspect, %d JWTs in one round-robin, more than the verified-JWT cache holds (%d): every signature verified", len(coldJWTs), jwtCacheMax)},
		{name: "refresh", ref: "ref-bare", latchkey: true,
			build: func(st *connState, dst []byte) []byte {
				return appendPost(dst, refreshHead, "grant_type=refresh_token&refresh_token=", st.refresh)
			},
			after: func(st *connState, body []byte) bool {
				rt := extractJSONString(body, "refresh_token")
				st.refresh = rt
				return rt != ""
			},
			what: "POST /token refresh_token, rotating: each connection follows its own chain"},
		{name: "sso-code-flow", ref: "ref-bare", latchkey: true, op: flowRS.op,
			what: "one op = GET /authorize with a live session and remembered consent (302 with a code) + POST /token (RS256 ID token, JWT access token)"},
		{name: "sso-code-flow-es256", ref: "ref-bare", latchkey: true, op: flowES.op,
			what: "the same, the client registered ES256 ID tokens"},
	}

	var issuedCC int64
	// idleDone: the idle reading was recorded (or had failed). ranSinceMem:
	// a scenario ran since the last reading, so a new one would not repeat
	// it.
	idleDone, ranSinceMem := false, false
	memAt := func(when string) {
		if m, ok := readMem(); ok {
			rep.Memory = append(rep.Memory, memPoint{When: when, Issued: issuedCC, memStats: m})
			ranSinceMem = false
		}
	}
	// The run order: the selected scenarios, then the references again, so
	// that a drift of the machine's speed during the run shows (other
	// engineers' jobs, the hypervisor) and ratios use the mean of both.
	var order []*scenario
	for _, sc := range all {
		if slices.Contains(want, sc.name) {
			order = append(order, sc)
		}
	}
	if o.refsAgain {
		for _, sc := range all {
			if sc.ref == "" || sc.name == "ref-jwt" {
				if slices.Contains(want, sc.name) {
					again := *sc
					again.name += endSuffix
					order = append(order, &again)
				}
			}
		}
	}
	for _, sc := range order {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if sc.latchkey && !idleDone {
			idleDone = true
			if idleOK {
				rep.Memory = append(rep.Memory, memPoint{When: "idle", memStats: idle})
			}
		}
		if (sc.name == "cc-jwt" || sc.name == "cc-opaque" && !slices.Contains(want, "cc-jwt")) && ranSinceMem {
			memAt("before cc-jwt/cc-opaque")
		}
		states := make([]*connState, o.conns)
		for i := range states {
			states[i] = &connState{idx: i}
		}
		if sc.name == "introspect-1m" {
			// In requests of seedChunk, each well within the child's
			// write timeout.
			t0 := time.Now()
			for left := o.stored; left > 0; left -= seedChunk {
				var n int
				if err := postJSON(ctl, "http://"+refHost+"/bench/seed-tokens?n="+strconv.Itoa(min(left, seedChunk)), &n); err != nil {
					return nil, fmt.Errorf("seed tokens: %w", err)
				}
			}
			fmt.Fprintf(stderr, "bench: stored %d more tokens in %s\n", o.stored, time.Since(t0).Round(time.Millisecond))
		}
		if sc.name == "refresh" {
			var chains []string
			if err := postJSON(ctl, "http://"+refHost+"/bench/refresh-chains?n="+strconv.Itoa(o.conns), &chains); err != nil {
				return nil, fmt.Errorf("refresh chains: %w", err)
			}
			for i, st := range states {
				st.refresh = chains[i]
			}
		}
		if sc.name == "cc-dpop" && rep.Backend == "sqlite" && !o.quick {
			// A server owning its database writes the jtis of proofs
			// dated within dpop.MaxFuture of its start (dpop.Verifier's
			// restart rule); the measured window follows that minute, as
			// nearly all of a server's life does (a -quick smoke run
			// measures the first minute's writes instead).
			if wait := time.Until(ready.Add(dpop.MaxFuture + 2*time.Second)); wait > 0 {
				fmt.Fprintf(stderr, "bench: cc-dpop waits %s, past the server's first minute\n", wait.Round(time.Second))
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		addr := refHost
		if sc.latchkey {
			addr = lkHost
		}
		fmt.Fprintf(stderr, "bench: %-19s %s\n", sc.name, sc.what)
		var s0, s1 stats
		mark := func(event string, s *stats) func() error {
			return func() error {
				return postJSON(ctl, "http://"+refHost+"/bench/mark?event="+event+"&scenario="+sc.name, s)
			}
		}
		lr, err := runLoad(ctx, addr, sc, states, o.warmup, o.dur, mark("start", &s0), mark("stop", &s1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.name, err)
		}
		if s0.ErrorMsg != "" {
			fmt.Fprintf(stderr, "bench: %s: profile: %s\n", sc.name, s0.ErrorMsg)
		}
		r := result{Name: sc.name, Ref: sc.ref, Requests: lr.count, Issued: lr.total, Errors: lr.errors, FirstError: lr.firstErr,
			Elapsed: lr.elapsed, P50: lr.hist.quantile(0.50), P99: lr.hist.quantile(0.99), GenCPU: -1, DBCPUPerOp: -1, Profile: s0.Profile,
			Other: -1}
		dbOK := s0.DBCPUOK && s1.DBCPUOK
		if rep.Backend == "postgres" && !dbOK && rep.DBNote == "" {
			rep.DBNote = cmp.Or(s0.DBCPUNote, s1.DBCPUNote, "not measured")
		}
		secs := lr.elapsed.Seconds()
		r.RPS = float64(lr.count) / secs
		r.ServerCPU = float64(s1.CPUNS-s0.CPUNS) / float64(lr.elapsed)
		if lr.genCPUOK {
			r.GenCPU = float64(lr.genCPUNS) / float64(lr.elapsed)
			if lr.busyOK {
				others := lr.busyNS - lr.genCPUNS - (s1.CPUNS - s0.CPUNS)
				if dbOK {
					others -= s1.DBCPUNS - s0.DBCPUNS
				}
				r.Other = max(0, float64(others)/float64(lr.elapsed))
			}
		}
		if lr.count > 0 {
			r.CPUPerReq = time.Duration((s1.CPUNS - s0.CPUNS) / lr.count)
			r.QueriesOp = float64(s1.Queries-s0.Queries) / float64(lr.count)
			r.CommitsOp = float64(s1.Commits-s0.Commits) / float64(lr.count)
			if dbOK {
				r.DBCPUPerOp = time.Duration((s1.DBCPUNS - s0.DBCPUNS) / lr.count)
				r.DBExited = s1.DBExited - s0.DBExited
			}
		}
		r.TotalCPU = r.CPUPerReq + max(0, r.DBCPUPerOp)
		r.ServerOnly = rep.Backend == "postgres" && r.DBCPUPerOp < 0
		rep.Results = append(rep.Results, r)
		if r.Errors > 0 {
			fmt.Fprintf(stderr, "bench: %s: %d errors, first: %s\n", sc.name, r.Errors, r.FirstError)
		}
		ranSinceMem = true
		if sc.name == "cc-jwt" || sc.name == "cc-dpop" || sc.name == "cc-opaque" {
			issuedCC += lr.total
		}
		if sc.latchkey {
			memAt("after " + sc.name)
		}
	}
	setRatios(rep.Results)
	load1 := loadAvg()
	printReport(stdout, o, rep, load0, load1)
	return rep, nil
}

// endSuffix names the references measured again at the end of the run.
const endSuffix = "@end"

// setRatios sets each result's ratios to its reference: the mean of the
// reference's measurements at the start and at the end of the run. The CPU
// ratio compares TotalCPU: on PostgreSQL the database backends' CPU counts
// too.
func setRatios(results []result) {
	for i := range results {
		r := &results[i]
		if r.Ref == "" || strings.HasSuffix(r.Name, endSuffix) {
			continue
		}
		var rps, cpu float64
		n := 0
		for _, ref := range results {
			if ref.Name == r.Ref || ref.Name == r.Ref+endSuffix {
				rps += ref.RPS
				cpu += float64(ref.TotalCPU)
				n++
			}
		}
		if n == 0 || rps == 0 {
			continue
		}
		r.Ratio = r.RPS / (rps / float64(n))
		if r.TotalCPU > 0 {
			r.CPURatio = cpu / float64(n) / float64(r.TotalCPU)
		}
	}
}

// child is the running server process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	info  childInfo
	done  chan error
}

// startChild starts this program (or test binary) as the server, pinned to
// -server-cpu with taskset when there are two CPUs or more, and reads the
// line that says where it listens.
func startChild(ctx context.Context, o options, stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	taskset, lookErr := exec.LookPath("taskset")
	// Under -pin this process may already be on one CPU (pinSelf), so
	// NumCPU alone does not tell whether there are two.
	if o.pin && (os.Getenv(envPinned) == "1" || runtime.NumCPU() >= 2) && lookErr == nil {
		cmd = exec.Command(taskset, "-c", strconv.Itoa(o.serverCPU), exe)
	} else {
		cmd = exec.Command(exe)
	}
	cmd.Env = append(os.Environ(),
		envServe+"=1", envDB+"="+o.db, envDir+"="+o.dir, envAlg+"="+o.alg,
		envProfile+"="+strings.Join(o.profile, ","), envProfileDir+"="+o.profileDir,
		// The server runs on one core; without taskset, at least on one P.
		"GOMAXPROCS=1",
	)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	go func() { c.done <- cmd.Wait() }()
	select {
	case line, ok := <-lines:
		if !ok {
			stdin.Close()
			return nil, fmt.Errorf("the server child exited before it was ready: %v", <-c.done)
		}
		if err := json.Unmarshal([]byte(line), &c.info); err != nil {
			c.stop()
			return nil, fmt.Errorf("the server child said %q: %w", line, err)
		}
	case <-time.After(2 * time.Minute):
		c.stop()
		return nil, errors.New("the server child did not start within 2 minutes")
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	return c, nil
}

// stop closes the child's stdin, which makes it shut down and drop its
// database, and waits for it (killing it after 30 s).
func (c *child) stop() {
	c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// issueTokens gets n distinct access tokens for a client_credentials client,
// on a few keep-alive connections at once (the introspect-jwt-cold set is
// over ten thousand).
func issueTokens(host, id, sec string, n int) ([]string, error) {
	const workers = 8
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	out := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if out[i], errs[w] = issueToken(cl, host, id, sec); errs[w] != nil {
					next.Store(int64(n)) // the others stop too
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, n)
	for _, t := range out {
		if seen[t] {
			return nil, fmt.Errorf("issue tokens for %s: the same token twice", id)
		}
		seen[t] = true
	}
	return out, nil
}

func issueToken(cl *http.Client, host, id, sec string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+host+"/token", strings.NewReader("grant_type=client_credentials&scope="+benchScope))
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(sec))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := cl.Do(req)
	if err != nil {
		return "", err
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return "", fmt.Errorf("issue a token for %s: HTTP %d %v", id, resp.StatusCode, err)
	}
	return tr.AccessToken, nil
}

func getJSON(ctl *http.Client, u string, v any) error {
	resp, err := ctl.Get(u)
	if err != nil {
		return err
	}
	return decodeResponse(resp, v)
}

func postJSON(ctl *http.Client, u string, v any) error {
	resp, err := ctl.Post(u, "application/x-www-form-urlencoded", nil)
	if err != nil {
		return err
	}
	return decodeResponse(resp, v)
}

func decodeResponse(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s: HTTP %d: %s", resp.Request.URL.Path, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// loadAvg returns /proc/loadavg's first three fields, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
