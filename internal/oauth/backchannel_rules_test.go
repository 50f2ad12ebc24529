package oauth

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackChannelLogout_2_8_DeliveryAttempts: a logout token is posted once
// to an RP that answers 2xx (delivered) or 4xx (refused: §2.8, not retried);
// an RP answering 5xx or not answering at all is tried three times, then
// given up; nothing panics and the outcome is logged as what it was.
func TestBackChannelLogout_2_8_DeliveryAttempts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int // 0: nobody listens
		attempts int
		logged   string
	}{
		{"BackChannel_2.8/200_is_delivered", 200, 1, "back-channel logout delivered"},
		{"BackChannel_2.8/204_is_delivered", 204, 1, "back-channel logout delivered"},
		{"BackChannel_2.8/400_is_refused_and_not_retried", 400, 1, "back-channel logout refused by the client"},
		{"BackChannel_2.5/500_is_retried_three_times", 500, 3, "back-channel logout not delivered"},
		{"BackChannel_2.5/no_answer_is_retried_three_times", 0, 0, "back-channel logout not delivered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			hits := 0
			rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hits++
				mu.Unlock()
				if r.Method != http.MethodPost || r.FormValue("logout_token") != "tok" {
					w.WriteHeader(499)
					return
				}
				w.WriteHeader(tc.status)
			}))
			uri := rp.URL + "/bcl"
			if tc.status == 0 {
				rp.Close()
			} else {
				defer rp.Close()
			}
			var logs bytes.Buffer
			b := newBackchannel()
			b.pause = time.Millisecond
			done := make(chan struct{})
			go func() {
				defer close(done)
				b.deliver(slog.New(slog.NewTextHandler(&logs, nil)), "rp", uri, "tok")
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("delivery never ends")
			}
			mu.Lock()
			defer mu.Unlock()
			if hits != tc.attempts || !strings.Contains(logs.String(), tc.logged) {
				t.Fatalf("%d attempts (want %d), logged:\n%s", hits, tc.attempts, logs.String())
			}
		})
	}
}
