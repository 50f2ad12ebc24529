package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dbtest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestTLS_ServesHTTP2AndHSTSWithTheConfiguredCertificate: with
// server.tls_cert and server.tls_key, Serve answers HTTPS with that
// certificate, negotiates HTTP/2, refuses TLS 1.1, and an https issuer
// gets HSTS.
func TestTLS_ServesHTTP2AndHSTSWithTheConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert := testenv.WriteCert(t, certFile, keyFile, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.SystemSecret = strings.Repeat("k", 32)
	cfg.Issuer = "https://" + ln.Addr().String()
	cfg.Server.TLSCert, cfg.Server.TLSKey = certFile, keyFile
	s, err := New(Options{Config: cfg, Store: dbtest.Open(t, "sqlite"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get(cfg.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("discovery over TLS: %d %s, want 200 over HTTP/2.0", resp.StatusCode, resp.Proto)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 1 {
		t.Fatalf("served certificate %d, want 1", got)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS with an https issuer")
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(cfg.Issuer + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	}
}

// TestTLS_ACertificateChangedOnDiskIsServedWithoutARestart: new files are
// picked up at the next check; files that do not load keep the previous
// certificate.
func TestTLS_ACertificateChangedOnDiskIsServedWithoutARestart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	testenv.WriteCert(t, certFile, keyFile, 1)
	now := time.Now()
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		t.Helper()
		c, err := r.getCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.Int64()
	}
	testenv.WriteCert(t, certFile, keyFile, 2)
	if got := serial(); got != 1 {
		t.Fatalf("before the next check: serial %d, want 1", got)
	}
	now = now.Add(certCheckEvery)
	if got := serial(); got != 2 {
		t.Fatalf("after the check: serial %d, want 2", got)
	}
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(certCheckEvery)
	if got := serial(); got != 2 {
		t.Fatalf("with a broken key file: serial %d, want the previous 2", got)
	}
	if _, err := newCertReloader(certFile, keyFile, slog.Default(), time.Now); err == nil {
		t.Fatal("a broken pair was accepted at start")
	}
}
