package oauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// noDeviceCodes is a store in which no user code names a device
// authorization; FindDeviceRequest needs nothing else of it.
type noDeviceCodes struct{ store.Store }

func (noDeviceCodes) GetDeviceCodeByUserCode(context.Context, string, time.Time) (store.DeviceCode, error) {
	return store.DeviceCode{}, store.ErrNotFound
}

// TestRFC8628_5_1_GlobalGuessingCap: past userCodeAllFailures wrong codes
// a minute in total (a guess spread over many addresses and accounts),
// an address that already guessed wrong is refused before any lookup,
// while one that never did still gets an answer (a user typing a code
// for the first time is not locked out by an attack elsewhere).
func TestRFC8628_5_1_GlobalGuessingCap(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &Provider{Store: noDeviceCodes{}, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler),
		userCodes: newUserCodeThrottles()}
	ctx := context.Background()
	for i := range userCodeAllFailures {
		_, e := p.FindDeviceRequest(ctx, "BCDF-GHJK", fmt.Sprintf("user-%d", i), fmt.Sprintf("198.51.%d.%d", i/256, i%256))
		if e == nil || e.Status != http.StatusBadRequest {
			t.Fatalf("guess %d: %+v, want a wrong-code answer", i, e)
		}
	}
	_, e := p.FindDeviceRequest(ctx, "BCDF-GHJK", "someone", "198.51.0.7") // guessed wrong before
	// The window began with the first guess, a minute ago by this clock:
	// Retry-After is the whole window, rounded up.
	if e == nil || e.Status != http.StatusTooManyRequests || e.RetryAfter != int(userCodeWindow/time.Second)+1 {
		t.Fatalf("an address that guessed wrong, past the cap: %+v, want 429 with Retry-After %d", e, int(userCodeWindow/time.Second)+1)
	}
	_, e = p.FindDeviceRequest(ctx, "BCDF-GHJK", "newcomer", "203.0.113.1")
	if e == nil || e.Status != http.StatusBadRequest {
		t.Fatalf("a new address past the cap: %+v, want its code looked up (400 wrong code)", e)
	}
	// The window ends: the guessing address may try again.
	now = now.Add(userCodeWindow + time.Second)
	if _, e = p.FindDeviceRequest(ctx, "BCDF-GHJK", "someone", "198.51.0.7"); e == nil || e.Status != http.StatusBadRequest {
		t.Fatalf("after the window: %+v", e)
	}
}
