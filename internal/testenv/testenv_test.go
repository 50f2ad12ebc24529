package testenv

import "testing"

func TestInCI(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"", false},
		{"true", true},
		{"TRUE", true},
		{"True", true},
		{"1", true},
		{"t", true},
		{"yes", true},
		{"Yes", true},
		{" yes ", true},
		{"false", false},
		{"0", false},
		{"no", false},
		{"nope", false},
		{"2", false},
	}
	for _, tc := range tests {
		t.Run("CI="+tc.value, func(t *testing.T) {
			t.Setenv(CIVar, tc.value)
			if got := InCI(); got != tc.want {
				t.Errorf("InCI() with CI=%q = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

// fakeTB records how Missing ended a test. Fatalf and Skipf stop the
// goroutine, as the real ones do.
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	panic(stop{})
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = true
	panic(stop{})
}

type stop struct{}

func missing(reason string) *fakeTB {
	f := &fakeTB{}
	func() {
		defer func() {
			if r := recover(); r != nil && r != (stop{}) {
				panic(r)
			}
		}()
		Missing(f, reason)
	}()
	return f
}

func TestMissing(t *testing.T) {
	t.Run("outside_CI_skips", func(t *testing.T) {
		t.Setenv(CIVar, "")
		if f := missing("no widget"); !f.skipped || f.failed {
			t.Errorf("skipped %v, failed %v; want a skip", f.skipped, f.failed)
		}
	})
	for _, v := range []string{"true", "1", "yes"} {
		t.Run("CI="+v+"_fails", func(t *testing.T) {
			t.Setenv(CIVar, v)
			if f := missing("no widget"); !f.failed || f.skipped {
				t.Errorf("skipped %v, failed %v; want a failure", f.skipped, f.failed)
			}
		})
	}
}
