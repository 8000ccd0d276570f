package webhook

import (
	"github.com/sony/gobreaker/v2"

	"github.com/callout/callout"
)

// BreakerState reports the state of w's circuit breaker in this process:
// "closed", "open" or "half-open". A webhook not called since its settings
// last changed has a fresh breaker, closed.
func (c *Client) BreakerState(w *callout.Webhook) string {
	return c.breakers.state(w)
}

func (bs *breakers) state(w *callout.Webhook) string {
	bs.mu.Lock()
	b, ok := bs.m[breakerKey{w.ManufacturerID, w.Kind}]
	bs.mu.Unlock()
	if !ok || b.config != configOf(w) {
		return gobreaker.StateClosed.String()
	}
	return b.cb.State().String()
}
