package oauth

import (
	"strings"
	"testing"
)

// TestRFC6749_3_1_RepeatedNameIsEchoedOnlyWhenSafe: the error for a
// repeated parameter names it when the name is made of letters, digits,
// "_", "-" and "." (every one of them, the first and last of each range
// included), and never echoes any other character, those next to the
// ranges included.
func TestRFC6749_3_1_RepeatedNameIsEchoedOnlyWhenSafe(t *testing.T) {
	for _, name := range []string{"a", "z", "A", "Z", "0", "9", "_", "-", ".", "azAZ09_-.", "client_id"} {
		if d := duplicated(name).Description; !strings.Contains(d, "parameter "+name+" is repeated") {
			t.Errorf("RFC6749_3_1/%q: %q, want the name echoed", name, d)
		}
	}
	for _, c := range "`{@[/:\x00 %<>\"'é" {
		name := "x" + string(c)
		if d := duplicated(name).Description; strings.Contains(d, name) || !strings.Contains(d, "unusual characters") {
			t.Errorf("RFC6749_3_1/%q: %q, want no echo", name, d)
		}
	}
}
