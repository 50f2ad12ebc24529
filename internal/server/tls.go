package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in a pair of PEM files and reads them
// again when either changes on disk (a renewal by certbot or a secret
// mount), checking at most every checkEvery, on a handshake. A pair that
// fails to load is logged and the previous one kept.
type certReloader struct {
	certFile, keyFile string
	checkEvery        time.Duration
	logger            *slog.Logger
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string // the files' sizes and modification times when loaded
	checkedAt time.Time
}

// certCheckEvery is how often the files are looked at, at most.
const certCheckEvery = 5 * time.Second

func newCertReloader(certFile, keyFile string, logger *slog.Logger, now func() time.Time) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, checkEvery: certCheckEvery, logger: logger, now: now}
	stamp, err := r.fileStamp()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	r.cert, r.stamp, r.checkedAt = &cert, stamp, now()
	return r, nil
}

func (r *certReloader) fileStamp() (string, error) { return fileStamp(r.certFile, r.keyFile) }

// fileStamp is the sizes and modification times of the files.
func fileStamp(certFile, keyFile string) (string, error) {
	var stamp string
	for _, f := range []string{certFile, keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		stamp += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}

// getCertificate is tls.Config.GetCertificate.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checkedAt) >= r.checkEvery {
		r.checkedAt = now
		if stamp, err := r.fileStamp(); err == nil && stamp != r.stamp {
			cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
			if err != nil {
				r.logger.Error("TLS certificate changed on disk but does not load; serving the previous one", "err", err)
			} else {
				r.cert, r.stamp = &cert, stamp
				r.logger.Info("TLS certificate reloaded", "file", r.certFile)
			}
		}
	}
	return r.cert, nil
}

// loadCert reads the pair of files now, without serving it yet.
func loadCert(certFile, keyFile string) (loadedCert, error) {
	stamp, err := fileStamp(certFile, keyFile)
	if err != nil {
		return loadedCert{}, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return loadedCert{}, fmt.Errorf("tls: %w", err)
	}
	return loadedCert{certFile: certFile, keyFile: keyFile, cert: &cert, stamp: stamp}, nil
}

// loadedCert is a pair of files read by load, to be served by use.
type loadedCert struct {
	certFile, keyFile string
	cert              *tls.Certificate
	stamp             string
}

// use serves c from the next handshake on, and watches its files from
// now on (they may be other files than before).
func (r *certReloader) use(c loadedCert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.certFile, r.keyFile, r.cert, r.stamp, r.checkedAt = c.certFile, c.keyFile, c.cert, c.stamp, r.now()
}

// tlsConfig is the server's TLS configuration: TLS 1.2 and later, HTTP/2
// offered first, the certificate from r.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: r.getCertificate,
	}
}
