package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestRFC9700_4_13_ClientAddressThroughTrustedProxiesOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		header  string
		peer    string
		values  []string
		want    string
	}{
		{"no trusted proxy: the peer, whatever the header says", nil, "", "198.51.100.1:4000", []string{"203.0.113.9"}, "198.51.100.1"},
		{"untrusted peer: its X-Forwarded-For is ignored", []string{"10.0.0.0/8"}, "", "198.51.100.1:4000", []string{"203.0.113.9"}, "198.51.100.1"},
		{"trusted peer: the address it recorded", []string{"10.0.0.0/8"}, "", "10.1.2.3:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"read from the right: a spoofed leftmost entry is not believed", []string{"10.0.0.0/8"}, "", "10.1.2.3:4000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"through several trusted hops", []string{"10.0.0.0/8", "192.168.0.1"}, "", "10.1.2.3:4000", []string{"1.2.3.4, 203.0.113.9, 192.168.0.1, 10.9.9.9"}, "203.0.113.9"},
		{"repeated headers are one list", []string{"10.0.0.0/8"}, "", "10.1.2.3:4000", []string{"1.2.3.4", "203.0.113.9"}, "203.0.113.9"},
		{"an entry with a port", []string{"10.0.0.0/8"}, "", "10.1.2.3:4000", []string{"203.0.113.9:5555"}, "203.0.113.9"},
		{"a garbled entry ends the walk at the hop that wrote it", []string{"10.0.0.0/8"}, "", "10.1.2.3:4000", []string{"203.0.113.9, garbage"}, "10.1.2.3"},
		{"no header from a trusted peer: the peer", []string{"10.0.0.0/8"}, "", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"all hops trusted: the leftmost", []string{"10.0.0.0/8"}, "", "10.1.2.3:4000", []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"IPv6 peer, mapped IPv4 unmapped", []string{"::1"}, "", "[::1]:4000", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"Forwarded, RFC 7239", []string{"10.0.0.0/8"}, "Forwarded", "10.1.2.3:4000", []string{`for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https`}, "2001:db8:cafe::/64"},
		{"Forwarded: X-Forwarded-For is then ignored", []string{"10.0.0.0/8"}, "Forwarded", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"Forwarded: an obfuscated identifier ends the walk", []string{"10.0.0.0/8"}, "Forwarded", "10.1.2.3:4000", []string{"for=_hidden"}, "10.1.2.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.trusted, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.peer
			name := "X-Forwarded-For"
			if tc.header == "Forwarded" {
				name = "Forwarded"
				req.Header.Add("X-Forwarded-For", "6.6.6.6")
			}
			for _, v := range tc.values {
				req.Header.Add(name, v)
			}
			if got := Key(r.Address(req)); got != tc.want {
				t.Fatalf("address %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIPv6AddressesCountPerSlash64(t *testing.T) {
	a := Key(netip.MustParseAddr("2001:db8:1:2:aaaa::1"))
	b := Key(netip.MustParseAddr("2001:db8:1:2:bbbb::9"))
	c := Key(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c {
		t.Fatalf("keys %q %q %q: one /64 must be one key, another /64 another", a, b, c)
	}
}

func TestNewRefusesWhatIsNotAProxy(t *testing.T) {
	for _, bad := range [][]string{{"example.com"}, {"10.0.0.0/33"}, {""}} {
		if _, err := New(bad, ""); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := New(nil, "X-Real-IP"); err == nil {
		t.Error("an unknown header was accepted")
	}
}
