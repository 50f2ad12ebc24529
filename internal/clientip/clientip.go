// Package clientip finds the network address of the client that sent a
// request: the TCP peer, or, when the peer is a trusted proxy, the address
// that proxy recorded in X-Forwarded-For or Forwarded (RFC 7239). Rate
// limits are keyed on it, so it must not be spoofable: entries are read
// from the right, through trusted hops only, and a peer that is not a
// trusted proxy is never believed (RFC 9700 §4.13, SECURITY.md R18).
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Headers a trusted proxy may record the client in.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// Resolver finds client addresses behind a set of trusted proxies.
type Resolver struct {
	trusted []netip.Prefix
	header  string
}

// New returns a resolver trusting the proxies in cidrs (a bare address is
// one host) and reading header, X-Forwarded-For when empty.
func New(cidrs []string, header string) (*Resolver, error) {
	r := &Resolver{header: HeaderXForwardedFor}
	switch {
	case header == "" || strings.EqualFold(header, HeaderXForwardedFor):
	case strings.EqualFold(header, HeaderForwarded):
		r.header = HeaderForwarded
	default:
		return nil, fmt.Errorf("proxy header %q: want %s or %s", header, HeaderXForwardedFor, HeaderForwarded)
	}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", c)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

// Address returns the client's address: the peer's, unless the peer is a
// trusted proxy, then the rightmost address in the header that is not a
// trusted proxy (or the leftmost, if all are). An entry that does not
// parse ends the walk at the hop that wrote it.
func (r *Resolver) Address(req *http.Request) netip.Addr {
	peer := peerAddr(req.RemoteAddr)
	if !r.isTrusted(peer) {
		return peer
	}
	hops := r.hops(req.Header)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = a
		if !r.isTrusted(a) {
			return a
		}
	}
	return client
}

// Trusts reports whether any proxy is trusted.
func (r *Resolver) Trusts() bool { return len(r.trusted) > 0 }

// FromTrustedProxy reports whether req came straight from a trusted proxy,
// whose headers may then be believed.
func (r *Resolver) FromTrustedProxy(req *http.Request) bool {
	return r.isTrusted(peerAddr(req.RemoteAddr))
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hops lists the header's entries, left to right, across repeated headers.
func (r *Resolver) hops(h http.Header) []string {
	var out []string
	for _, line := range h.Values(r.header) {
		if r.header == HeaderXForwardedFor {
			for _, e := range strings.Split(line, ",") {
				out = append(out, strings.TrimSpace(e))
			}
			continue
		}
		for _, elem := range splitQuoted(line, ',') {
			out = append(out, forwardedFor(elem))
		}
	}
	return out
}

// forwardedFor returns the for= value of one Forwarded element (RFC 7239
// §4), unquoted; "" if it has none.
func forwardedFor(elem string) string {
	for _, pair := range splitQuoted(elem, ';') {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = strings.ReplaceAll(v[1:len(v)-1], `\`, "")
			}
			return v
		}
	}
	return ""
}

// splitQuoted splits s on sep outside double-quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseHop parses one recorded address: an IP, optionally with a port,
// IPv6 optionally bracketed. "unknown" and obfuscated identifiers do not
// parse.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// Key is the rate-limit key of an address: IPv4 as it is, IPv6 by its /64,
// which one subscriber usually holds whole; "unknown" for none.
func Key(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

type ctxKey struct{}

// With returns ctx carrying the client's address.
func With(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the rate-limit key of the client address ctx carries
// (With); "" when it carries none (work outside a request).
func FromContext(ctx context.Context) string {
	if a, ok := ctx.Value(ctxKey{}).(netip.Addr); ok {
		return Key(a)
	}
	return ""
}

// Of returns the rate-limit key of the request's client: the address the
// server's middleware resolved, or, without it, the peer's.
func Of(r *http.Request) string {
	if a, ok := r.Context().Value(ctxKey{}).(netip.Addr); ok {
		return Key(a)
	}
	return Key(peerAddr(r.RemoteAddr))
}
