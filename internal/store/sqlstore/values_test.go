package sqlstore

import (
	"slices"
	"testing"
)

// FuzzListRoundTrip: every list encodeList writes scans back as it was,
// whether plainList's fast path or json.Unmarshal decodes it, and
// plainList never accepts what it would decode differently.
func FuzzListRoundTrip(f *testing.F) {
	for _, seed := range [][2]string{{"openid", "notes.read"}, {"a,b", `"q"`}, {`\`, "<&>"}, {"名前", ""}, {"", ","}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if checkText(a, b) != nil {
			t.Skip("not storable")
		}
		for _, want := range [][]string{nil, {a}, {a, b}, {b, a, b}} {
			enc := encodeList(want)
			var got []string
			if err := list(&got).Scan(enc); err != nil {
				t.Fatalf("scan %q: %v", enc, err)
			}
			if !slices.Equal(got, want) || (len(want) == 0) != (got == nil) {
				t.Fatalf("%q scanned as %q, want %q", enc, got, want)
			}
			if l, ok := plainList(enc); ok && !slices.Equal(l, want) {
				t.Fatalf("plainList(%q) = %q, want %q", enc, l, want)
			}
		}
	})
}
