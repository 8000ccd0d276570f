package webhook_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/webhook"
)

// TestBreakerState checks what the console shows of a breaker: closed before
// any callout, open after the failures, and closed again once the webhook's
// settings change (a fixed webhook gets a fresh breaker), half-open when the
// open period is over.
func TestBreakerState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeWebhook{status: http.StatusServiceUnavailable}
		c := webhook.New(webhook.Options{HTTPClient: fake.client()})
		w := newHook(callout.KindPricing, "https://erp.example.com/price")
		state := func(want string) {
			t.Helper()
			if got := c.BreakerState(w); got != want {
				t.Errorf("BreakerState = %q, want %q", got, want)
			}
		}
		state("closed")
		for range 5 {
			call(t, c, w)
		}
		state("open")
		time.Sleep(time.Duration(w.Breaker.OpenSeconds)*time.Second + time.Millisecond)
		state("half-open")
		w.UpdatedAt = w.UpdatedAt.Add(time.Second)
		state("closed")
	})
}
