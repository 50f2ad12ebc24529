package oauth

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// maxRedirectURILen bounds a registered or requested redirect URI.
const maxRedirectURILen = 2048

// ValidateRegisteredRedirectURI checks a redirect URI at client registration
// (RFC 6749 §3.1.2, RFC 9700 §2.6 and §4.1.3): absolute, no fragment, https
// or loopback http (RFC 8252 §7.3), or a private-use scheme of a native app
// (RFC 8252 §7.1, a reverse domain name containing a dot); never a script or
// data scheme in any letter case, and no code or state parameter of its own.
func ValidateRegisteredRedirectURI(raw string) error {
	if raw == "" || len(raw) > maxRedirectURILen {
		return errors.New("redirect URI must be 1 to 2048 characters")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] == 0x7f || raw[i] == '\\' {
			return errors.New("redirect URI contains a space, a control character or a backslash")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("redirect URI is not a valid URI")
	}
	if !u.IsAbs() {
		return errors.New("redirect URI must be absolute")
	}
	if strings.Contains(raw, "#") {
		return errors.New("redirect URI must not contain a fragment (RFC 6749 §3.1.2)")
	}
	if u.User != nil {
		return errors.New("redirect URI must not contain user information")
	}
	// A query Go cannot read (a bad escape, a ";" separator) could hide a
	// code or state parameter from the check below, so it is refused.
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return errors.New("redirect URI has a malformed query")
	}
	if q.Has("code") || q.Has("state") || q.Has("error") || q.Has("iss") {
		return errors.New("redirect URI must not carry code, state, error or iss parameters")
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "javascript", "data", "vbscript", "file", "blob", "about":
		return errors.New("redirect URI scheme " + scheme + " is not allowed")
	case "https":
		if u.Host == "" {
			return errors.New("https redirect URI must have a host")
		}
	case "http":
		if !isLoopbackHost(u.Hostname()) && u.Hostname() != "localhost" {
			return errors.New("http redirect URIs are allowed only for loopback addresses (RFC 8252 §7.3); use https")
		}
	default:
		if !strings.Contains(scheme, ".") {
			return errors.New("a native app's private-use scheme must be a reverse domain name (RFC 8252 §7.1)")
		}
	}
	// url.Parse lower-cases u.Scheme, so the check looks at raw.
	if !strings.HasPrefix(raw, u.Scheme+":") {
		return errors.New("redirect URI scheme must be lower case")
	}
	return nil
}

// isLoopbackHost reports whether host is an IP loopback literal (not "localhost",
// RFC 8252 §8.3).
func isLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MatchRedirectURI returns whether requested may be used for a client that
// registered the given URIs: an exact string match (RFC 9700 §4.1.3), or,
// for a registered http loopback IP URI, a match in everything but the port
// (RFC 8252 §7.3: "MUST allow any port to be specified at the time of the
// request for loopback IP redirect URIs").
func MatchRedirectURI(registered []string, requested string) bool {
	if requested == "" || len(requested) > maxRedirectURILen {
		return false
	}
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	for _, r := range registered {
		if loopbackMatch(r, requested) {
			return true
		}
	}
	return false
}

// loopbackMatch compares two http loopback URIs ignoring only the port.
func loopbackMatch(registered, requested string) bool {
	if !strings.HasPrefix(registered, "http://") || !strings.HasPrefix(requested, "http://") {
		return false
	}
	ru, err := url.Parse(registered)
	if err != nil || !isLoopbackHost(ru.Hostname()) {
		return false
	}
	qu, err := url.Parse(requested)
	if err != nil || qu.User != nil || qu.Fragment != "" || strings.Contains(requested, "#") {
		return false
	}
	if qu.Hostname() != ru.Hostname() || qu.Port() == "" && strings.HasSuffix(qu.Host, ":") {
		return false
	}
	// Everything after the authority must be byte-equal.
	return rest(registered) == rest(requested) && validPort(qu.Port())
}

// rest returns what follows scheme://authority in u.
func rest(u string) string {
	after := u[len("http://"):]
	if i := strings.IndexAny(after, "/?"); i >= 0 {
		return after[i:]
	}
	return ""
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	if len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n > 0 && n < 65536
}

// IsNativeRedirectURI reports whether uri belongs to a native app (RFC 8252
// §7): an http loopback IP URI, or a private-use URI scheme. Any program on
// the device can receive such a redirect, so it proves nothing about who
// the client is (§8.6).
func IsNativeRedirectURI(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return false
	case "http":
		return isLoopbackHost(u.Hostname())
	}
	return true
}
