package main

// The server child: a fresh database, Latchkey on one listener, the two
// reference handlers and the bench-only endpoints on another, in one process
// that the parent pins to one core.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secret"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/rs"
)

// The child is configured through the environment, not flags, so that a
// test binary (whose flags belong to package testing) can be the child too.
const (
	envServe      = "LATCHKEY_BENCH_SERVE"          // "1": run as the server child
	envDB         = "LATCHKEY_BENCH_DB"             // "sqlite" or an admin postgres:// DSN
	envDir        = "LATCHKEY_BENCH_DIR"            // where the SQLite file goes
	envAlg        = "LATCHKEY_BENCH_ALG"            // ES256 (default), EdDSA or RS256
	envProfile    = "LATCHKEY_BENCH_CPUPROFILE"     // comma-separated scenario names
	envProfileDir = "LATCHKEY_BENCH_CPUPROFILE_DIR" // where profiles are written
	envPinned     = "LATCHKEY_BENCH_PINNED"         // "1": the parent already runs under taskset
)

// Clients and user the child creates.
const (
	jwtClientID    = "bench-jwt"    // client_credentials, JWT access tokens
	opaqueClientID = "bench-opaque" // client_credentials, opaque access tokens
	webClientID    = "bench-web"    // authorization_code + refresh_token (the refresh scenario)
	benchUserID    = "bench-user"
	benchScope     = "notes.read"
)

var webScopes = []string{"notes.read", "photos.read", "offline_access"}

// childInfo is the one line of JSON the child prints on stdout when ready.
type childInfo struct {
	Latchkey   string            `json:"latchkey"` // host:port of Latchkey's handler
	Ref        string            `json:"ref"`      // host:port of the references and /bench/
	Backend    string            `json:"backend"`  // sqlite or postgres
	Secrets    map[string]string `json:"secrets"`  // client id -> secret
	GOMAXPROCS int               `json:"gomaxprocs"`
	CPUs       string            `json:"cpus"` // Cpus_allowed_list of the child
	Alg        string            `json:"alg"`
	DBPath     string            `json:"db_path,omitempty"`
}

// stats is what /bench/mark answers: counters the parent differences.
type stats struct {
	CPUNS   int64 `json:"cpu_ns"`  // this process's CPU time (user+system)
	Queries int64 `json:"queries"` // SQL statements sent by the store
	Commits int64 `json:"commits"` // write transactions the database committed
	// The bench database's PostgreSQL backends: their CPU time, how many
	// exited (their CPU since the previous sample is lost), and why it could
	// not be measured (DBCPUOK false).
	DBCPUNS   int64  `json:"db_cpu_ns"`
	DBCPUOK   bool   `json:"db_cpu_ok"`
	DBExited  int64  `json:"db_exited"`
	DBCPUNote string `json:"db_cpu_note,omitempty"`
	Profile   string `json:"profile,omitempty"`
	ErrorMsg  string `json:"error,omitempty"`
}

// memStats is what /bench/mem answers, after a forced GC that returned the
// freed memory to the OS.
type memStats struct {
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapSys    uint64 `json:"heap_sys"`
	Sys        uint64 `json:"sys"`
	RSS        int64  `json:"rss"`      // VmRSS, bytes
	PeakRSS    int64  `json:"peak_rss"` // VmHWM: the peak RSS since the child started, bytes
	Goroutines int    `json:"goroutines"`
}

// serveMain runs the child until its stdin closes (the parent finished or
// died) and returns the exit code.
func serveMain() int {
	// The child stops when its stdin closes, or on SIGINT/SIGTERM (a ^C
	// reaches the whole process group): either way it shuts down and drops
	// its database.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := serveChild(ctx, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench server:", err)
		return 1
	}
	return 0
}

func serveChild(ctx context.Context, stdout, stderr io.Writer) (err error) {
	dbSpec := os.Getenv(envDB)
	if dbSpec == "" {
		dbSpec = "sqlite"
	}
	alg := os.Getenv(envAlg)
	if alg == "" {
		alg = "ES256"
	}
	info := childInfo{GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: cpusAllowed(), Alg: alg, Secrets: map[string]string{}}

	// A fresh database, removed at the end.
	var dsn string
	var cleanup []func()
	defer func() {
		for _, f := range slices.Backward(cleanup) {
			f()
		}
	}()
	var pg *pgMonitor
	switch {
	case dbSpec == "sqlite":
		dir, err := os.MkdirTemp(os.Getenv(envDir), "latchkey-bench-")
		if err != nil {
			return err
		}
		cleanup = append(cleanup, func() { os.RemoveAll(dir) })
		info.Backend = "sqlite"
		info.DBPath = filepath.Join(dir, "latchkey.db")
		dsn = "sqlite:" + info.DBPath
	case strings.HasPrefix(dbSpec, "postgres://"), strings.HasPrefix(dbSpec, "postgresql://"):
		var drop func()
		dsn, drop, err = createPostgresDB(ctx, dbSpec)
		if err != nil {
			return err
		}
		cleanup = append(cleanup, drop)
		info.Backend = "postgres"
		if pg, err = newPGMonitor(ctx, dsn); err != nil {
			return err
		}
		cleanup = append(cleanup, func() { pg.db.Close() })
	default:
		return fmt.Errorf("-db must be sqlite or a postgres:// DSN")
	}
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return err
	}
	cleanup = append(cleanup, func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		return err
	}

	lnLK, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	lnRef, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	info.Latchkey, info.Ref = lnLK.Addr().String(), lnRef.Addr().String()
	issuer := "http://" + info.Latchkey

	// The configuration `latchkey serve` would use, and its logger: text,
	// Info (an audit line per token included) to a file, as a production
	// node writes to its log pipe, and warnings to stderr as well.
	cfg := config.Default()
	cfg.Issuer = issuer
	cfg.Listen = info.Latchkey
	cfg.Database = dsn
	cfg.SystemSecret = secret.RandomString(32)
	cfg.Tokens.Algorithm = alg
	logFile, err := os.CreateTemp(os.Getenv(envDir), "latchkey-bench-*.log")
	if err != nil {
		return err
	}
	cleanup = append(cleanup, func() { logFile.Close(); os.Remove(logFile.Name()) })
	logger := slog.New(slog.NewMultiHandler(slog.NewTextHandler(logFile, nil),
		slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	srv, err := server.New(server.Options{Config: cfg, Store: db, Logger: logger})
	if err != nil {
		return err
	}

	// Benchmark clients and user, created as the CLI would.
	now := time.Now().UTC()
	if err := db.CreateUser(ctx, store.User{ID: benchUserID, Username: benchUsername, PasswordHash: secret.HashPassword(benchPassword),
		Name: "Bench", Email: "bench@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
		return err
	}
	refClients := map[string][32]byte{}
	for _, c := range []store.Client{
		{ID: jwtClientID, Name: "bench JWT", GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"notes.read", "photos.read"}},
		{ID: opaqueClientID, Name: "bench opaque", GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: []string{"notes.read", "photos.read"},
			AccessTokenFormat: oauth.FormatOpaque},
		{ID: webClientID, Name: "bench web", GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			RedirectURIs: []string{"https://bench.example/callback"}, Scopes: webScopes},
		{ID: ssoClientID, Name: "bench SSO", GrantTypes: []string{oauth.GrantAuthorizationCode},
			RedirectURIs: []string{ssoRedirectURI}, Scopes: ssoScopes},
		{ID: ssoES256ClientID, Name: "bench SSO ES256", GrantTypes: []string{oauth.GrantAuthorizationCode},
			RedirectURIs: []string{ssoRedirectURI}, Scopes: ssoScopes, IDTokenAlg: "ES256"},
	} {
		sec, hash := oauth.NewClientSecret()
		c.SecretHash, c.CreatedAt, c.UpdatedAt = hash, now, now
		if err := oauth.ValidateClient(c, oauth.NewScopes(cfg.Scopes)); err != nil {
			return err
		}
		if err := db.CreateClient(ctx, c); err != nil {
			return err
		}
		info.Secrets[c.ID] = sec.String()
		refClients[c.ID] = sha256.Sum256([]byte(sec.String()))
	}

	signer, err := newRefSigner(alg)
	if err != nil {
		return err
	}
	b := &benchEndpoints{db: db, pg: pg, profiles: splitList(os.Getenv(envProfile)), profileDir: os.Getenv(envProfileDir), backend: info.Backend}
	mux := http.NewServeMux()
	mux.Handle("POST /ref/bare", &refHandler{clients: refClients, issuer: issuer})
	mux.Handle("POST /ref/jwt", &refHandler{clients: refClients, issuer: issuer, signer: signer})
	// The API of ref-api and rs-jwt. Latchkey's tokens name its issuer as
	// their audience unless configured otherwise, so that is the resource.
	guard, err := rs.New(rs.Config{Issuer: issuer, Resource: issuer})
	if err != nil {
		return err
	}
	mux.HandleFunc("GET /ref/api", apiHandler)
	mux.Handle("GET /rs/api", guard.Require(benchScope)(http.HandlerFunc(apiHandler)))
	mux.HandleFunc("POST /bench/mark", b.mark)
	mux.HandleFunc("GET /bench/mem", b.mem)
	mux.HandleFunc("POST /bench/refresh-chains", b.refreshChains)
	mux.HandleFunc("POST /bench/seed-tokens", b.seedTokens)
	// The same server settings as (*server.Server).Serve.
	refSrv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	lkDone := make(chan error, 1)
	go func() { lkDone <- srv.Serve(ctx, lnLK) }()
	refDone := make(chan error, 1)
	go func() { refDone <- refSrv.Serve(lnRef) }()

	line, _ := json.Marshal(info)
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return err
	}

	select {
	case <-ctx.Done():
	case err := <-lkDone:
		return fmt.Errorf("latchkey server: %w", err)
	case err := <-refDone:
		return fmt.Errorf("reference server: %w", err)
	}
	b.stopProfile()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	refSrv.Shutdown(sctx)
	if err := <-lkDone; err != nil {
		return fmt.Errorf("latchkey server: %w", err)
	}
	return nil
}

// createPostgresDB creates a fresh database on the server of admin (as
// internal/dbtest does for tests) and returns its DSN and a function that
// drops it.
func createPostgresDB(ctx context.Context, admin string) (string, func(), error) {
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close()
	name := "lk_bench_" + strconv.FormatInt(time.Now().Unix(), 10) + "_" + strings.ToLower(hexRandom(4))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(cctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("postgres: create database: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "bench server: drop database %s: %v\n", name, err)
		}
	}
	u, err := url.Parse(admin)
	if err != nil {
		drop()
		return "", nil, errors.New("postgres: cannot parse the DSN")
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

func hexRandom(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// pgMonitor adds up the CPU time of the PostgreSQL backends serving the
// bench database, when PostgreSQL runs on this machine: their pids come from
// pg_stat_activity, their CPU from /proc/PID/stat.
//
// It keeps each backend's CPU at the previous sample and adds only what each
// one used since (a backend first seen counts whole: it connected after the
// previous sample), so the total only grows: a backend that exits between
// two samples takes with it only the CPU it used since the first (counted in
// exited), instead of making the difference negative.
type pgMonitor struct {
	db     *sql.DB
	dbName string

	mu     sync.Mutex
	last   map[int]int64 // pid -> CPU ns at the previous sample
	total  int64         // CPU ns of the bench database's backends, since the first sample
	exited int64         // backends gone since the first sample
}

func newPGMonitor(ctx context.Context, dsn string) (*pgMonitor, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	m := &pgMonitor{db: db}
	if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&m.dbName); err != nil {
		db.Close()
		return nil, err
	}
	return m, nil
}

// dbCPU is a sample of the bench database's backends.
type dbCPU struct {
	ns     int64  // cumulative CPU time of the backends (only differences mean something)
	exited int64  // backends gone since the first sample
	note   string // why the CPU could not be measured ("" when it was)
}

// sample reads the CPU time of every backend connected to the bench
// database but the monitor's own. Every backend must be a local process
// whose command line (PostgreSQL's process title, "postgres: USER DB
// HOST(PORT) ...") names the database: a pid that does not exist here, or is
// another process, means PostgreSQL runs on another host or in another pid
// namespace (a container), and then nothing is measured.
func (m *pgMonitor) sample(ctx context.Context) dbCPU {
	rows, err := m.db.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
	if err != nil {
		return dbCPU{note: "pg_stat_activity: " + err.Error()}
	}
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			rows.Close()
			return dbCPU{note: "pg_stat_activity: " + err.Error()}
		}
		pids = append(pids, pid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbCPU{note: "pg_stat_activity: " + err.Error()}
	}
	cur := make(map[int]int64, len(pids))
	for _, pid := range pids {
		if !isBackendOf(pid, m.dbName) {
			return dbCPU{note: fmt.Sprintf("backend pid %d is not a local process serving %s (PostgreSQL on another host or in a container, or /proc not readable)", pid, m.dbName)}
		}
		ns, ok := pidCPU(pid)
		if !ok {
			return dbCPU{note: fmt.Sprintf("cannot read /proc/%d/stat", pid)}
		}
		cur[pid] = ns
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	add, gone := accountBackends(m.last, cur)
	if m.last != nil { // the first sample is the origin
		m.total += add
		m.exited += gone
	}
	m.last = cur
	return dbCPU{ns: m.total, exited: m.exited}
}

// accountBackends returns the CPU time the backends of cur used since prev
// (a pid new in cur counts whole), and how many of prev are gone. A pid
// whose CPU went down is a new process that reused the pid: it counts whole.
func accountBackends(prev, cur map[int]int64) (add, gone int64) {
	for pid, ns := range cur {
		if p, ok := prev[pid]; ok && p <= ns {
			add += ns - p
		} else {
			add += ns
		}
	}
	for pid := range prev {
		if _, ok := cur[pid]; !ok {
			gone++
		}
	}
	return add, gone
}

// benchEndpoints serves /bench/: counters, memory, profiles, refresh chains.
type benchEndpoints struct {
	db         *sqlstore.DB
	pg         *pgMonitor
	backend    string
	profiles   []string
	profileDir string

	mu      sync.Mutex
	profile *os.File
}

// snapshot reads the counters. The PostgreSQL sample (a query and a read of
// /proc per backend, in this process) is taken outside the measured window:
// before this process's CPU time at the start, after it at the stop.
func (b *benchEndpoints) snapshot(ctx context.Context, start bool) stats {
	var s stats
	pg := func() {
		if b.pg != nil {
			d := b.pg.sample(ctx)
			s.DBCPUNS, s.DBExited, s.DBCPUNote, s.DBCPUOK = d.ns, d.exited, d.note, d.note == ""
		}
	}
	if start {
		pg()
	}
	s.CPUNS, _ = processCPU()
	s.Queries = b.db.Queries()
	s.Commits = b.db.Commits()
	if !start {
		pg()
	}
	return s
}

// mark answers the counters at the start (event=start) or end (event=stop)
// of a scenario's measured window, and starts or stops the CPU profile of a
// scenario named in LATCHKEY_BENCH_CPUPROFILE.
func (b *benchEndpoints) mark(w http.ResponseWriter, r *http.Request) {
	scenario := r.URL.Query().Get("scenario")
	var s stats
	switch r.URL.Query().Get("event") {
	case "start":
		if slices.Contains(b.profiles, scenario) {
			path, err := b.startProfile(scenario)
			if err != nil {
				s.ErrorMsg = err.Error()
			}
			s.Profile = path
		}
		st := b.snapshot(r.Context(), true)
		st.Profile, st.ErrorMsg = s.Profile, s.ErrorMsg
		s = st
	case "stop":
		s = b.snapshot(r.Context(), false)
		b.stopProfile()
	default:
		http.Error(w, "event must be start or stop", http.StatusBadRequest)
		return
	}
	writeJSONResponse(w, s)
}

func (b *benchEndpoints) startProfile(scenario string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.profile != nil {
		return "", errors.New("a profile is already running")
	}
	dir := b.profileDir
	if dir == "" {
		dir = "."
	}
	path, err := filepath.Abs(filepath.Join(dir, "cpu-"+b.backend+"-"+scenario+".pprof"))
	if err != nil {
		return "", err
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return "", err
	}
	b.profile = f
	return path, nil
}

func (b *benchEndpoints) stopProfile() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.profile != nil {
		pprof.StopCPUProfile()
		b.profile.Close()
		b.profile = nil
	}
}

// mem forces a GC that returns the freed memory to the OS, and answers the
// heap, the resident set size and its peak since the child started. After
// runtime.GC alone the RSS would count freed pages the runtime has not yet
// given back (it does so over seconds): right after the start, some 40 MiB
// of the setup's garbage (the bench user's password hash among it). The
// peak (VmHWM) is not lowered.
func (b *benchEndpoints) mem(w http.ResponseWriter, r *http.Request) {
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	writeJSONResponse(w, memStats{HeapAlloc: m.HeapAlloc, HeapSys: m.HeapSys, Sys: m.Sys, RSS: processRSS(), PeakRSS: processPeakRSS(), Goroutines: runtime.NumGoroutine()})
}

// refreshChains creates n users' grants to the web client, each with one
// refresh token, as a code redemption would, and answers the raw
// refresh tokens: the parent's connections each rotate one chain.
func (b *benchEndpoints) refreshChains(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 1 || n > 10000 {
		http.Error(w, "n must be 1 to 10000", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	now := time.Now().UTC()
	out := make([]string, 0, n)
	for range n {
		// One user per chain: a user holds one grant per app, and each
		// chain stands for another user's app, as in production.
		user := store.User{ID: "bench-u-" + secret.RandomString(12), CreatedAt: now, UpdatedAt: now}
		user.Username = user.ID
		if err := b.db.CreateUser(ctx, user); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		g := store.Grant{ID: "bench-" + secret.RandomString(12), UserID: user.ID, ClientID: webClientID, Scopes: webScopes, CreatedAt: now}
		if err := b.db.CreateGrant(ctx, g); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		rt := secret.New(secret.PrefixRefreshToken)
		t := store.Token{Hash: secret.Hash(string(rt)), Kind: store.KindRefresh, FamilyID: secret.RandomString(16), GrantID: g.ID,
			ClientID: webClientID, UserID: user.ID, Scopes: webScopes, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
		if err := b.db.CreateTokens(ctx, []store.Token{t}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out = append(out, string(rt))
	}
	writeJSONResponse(w, out)
}

// seedBatch is how many tokens one transaction of seedTokens stores.
const seedBatch = 4096

// seedTokens stores n opaque access tokens of another client directly, in
// transactions of seedBatch rows, so that introspect-1m looks its tokens
// up among n more; it answers n.
func (b *benchEndpoints) seedTokens(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 1 || n > 10_000_000 {
		http.Error(w, "n must be 1 to 10000000", http.StatusBadRequest)
		return
	}
	now := time.Now().UTC()
	batch := make([]store.Token, 0, seedBatch)
	for done := 0; done < n; done += len(batch) {
		batch = batch[:0]
		for i := 0; i < seedBatch && done+i < n; i++ {
			batch = append(batch, store.Token{Hash: secret.Hash(hexRandom(16)), Kind: store.KindAccess, ClientID: jwtClientID,
				Scopes: []string{"notes.read"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		}
		if err := b.db.CreateTokens(r.Context(), batch); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	writeJSONResponse(w, n)
}

func writeJSONResponse(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// apiHandler is the API of ref-api and rs-jwt: a small fixed JSON answer,
// so that rs-jwt's ratio to ref-api is the cost of rs.Guard.
func apiHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"notes":[]}`))
}

// refHandler is a reference token endpoint of about the size of Latchkey's
// client_credentials path without Latchkey: it reads the url-encoded form
// (64 KiB cap), checks grant_type and HTTP Basic credentials against a
// SHA-256 in memory in constant time, and answers a small JSON with the
// headers RFC 6749 §5.1 requires. With a signer it also signs a JWT of the
// RFC 9068 shape, like Latchkey's, with the same algorithm and key size:
// the floor of JWT issuance on this machine.
type refHandler struct {
	clients map[string][32]byte
	issuer  string
	signer  *refSigner
}

type refClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	JTI      string `json:"jti"`
}

type refResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// bareToken is the fixed access token of the bare reference, as long as an
// opaque Latchkey token.
var bareToken = "lk_at_" + strings.Repeat("x", 43)

func (h *refHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	id, sec, ok := r.BasicAuth()
	want, known := h.clients[id]
	sum := sha256.Sum256([]byte(sec))
	if !ok || !known || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="ref"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	scope := r.PostForm.Get("scope")
	resp := refResponse{AccessToken: bareToken, TokenType: "Bearer", ExpiresIn: 3600, Scope: scope}
	if h.signer != nil {
		now := time.Now()
		jwt, err := h.signer.sign(refClaims{Issuer: h.issuer, Subject: id, Audience: h.issuer, ClientID: id, Scope: scope,
			Expiry: now.Add(time.Hour).Unix(), IssuedAt: now.Unix(), JTI: base64.RawURLEncoding.EncodeToString(randomBytes(24))})
		if err != nil {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return
		}
		resp.AccessToken = jwt
	}
	body, _ := json.Marshal(resp)
	hd := w.Header()
	hd.Set("Content-Type", "application/json;charset=UTF-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	w.Write(body)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// refSigner signs compact JWS with crypto/* directly: a header encoded once,
// the claims marshalled, one signature.
type refSigner struct {
	header  string
	signRaw func([]byte) ([]byte, error)
}

func newRefSigner(alg string) (*refSigner, error) {
	kid := base64.RawURLEncoding.EncodeToString(randomBytes(16))
	hdr, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "at+jwt"})
	s := &refSigner{header: base64.RawURLEncoding.EncodeToString(hdr)}
	switch alg {
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		s.signRaw = func(in []byte) ([]byte, error) {
			h := sha256.Sum256(in)
			der, err := ecdsa.SignASN1(rand.Reader, k, h[:])
			if err != nil {
				return nil, err
			}
			return derToP1363(der, 32)
		}
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		s.signRaw = func(in []byte) ([]byte, error) { return ed25519.Sign(k, in), nil }
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		s.signRaw = func(in []byte) ([]byte, error) {
			h := sha256.Sum256(in)
			return rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
		}
	default:
		return nil, fmt.Errorf("unknown algorithm %q (want ES256, EdDSA or RS256)", alg)
	}
	return s, nil
}

func (s *refSigner) sign(claims refClaims) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(s.header)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(512))
	buf = append(buf, s.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := s.signRaw(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// derToP1363 turns an ASN.1 ECDSA signature into r||s of size bytes each
// (RFC 7518 §3.4).
func derToP1363(der []byte, size int) ([]byte, error) {
	bad := errors.New("malformed ECDSA signature")
	if len(der) < 2 || der[0] != 0x30 || der[1] >= 0x80 || int(der[1]) != len(der)-2 {
		return nil, bad
	}
	rest := der[2:]
	out := make([]byte, 2*size)
	for i := range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || int(rest[1]) > len(rest)-2 {
			return nil, bad
		}
		n := int(rest[1])
		v := rest[2 : 2+n]
		rest = rest[2+n:]
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > size {
			return nil, bad
		}
		copy(out[(i+1)*size-len(v):], v)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// cpusAllowed returns this process's CPU affinity list ("0", "0-1"), or "".
func cpusAllowed() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}
