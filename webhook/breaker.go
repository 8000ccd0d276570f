package webhook

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/callout/callout"
)

// breakerKey names a webhook: one breaker per manufacturer and kind.
type breakerKey struct {
	manufacturer string
	kind         callout.Kind
}

// breakerConfig is what a breaker was built from; a webhook whose config
// differs gets a fresh breaker, so that an administrator's fix is tried at once.
type breakerConfig struct {
	failures  int
	open      time.Duration
	url       string
	updatedAt int64 // unix nanoseconds: time.Time's == would compare locations
}

func configOf(w *callout.Webhook) breakerConfig {
	failures := w.Breaker.ConsecutiveFailures
	if failures <= 0 {
		failures = callout.DefaultBreakerFailures
	}
	open := time.Duration(w.Breaker.OpenSeconds) * time.Second
	if open <= 0 {
		open = callout.DefaultBreakerOpen
	}
	return breakerConfig{failures: failures, open: open, url: w.URL, updatedAt: w.UpdatedAt.UnixNano()}
}

// The results a callout reports to its breaker.
var (
	errBreakerFailure = errors.New("breaker failure")
	errBreakerExclude = errors.New("not counted by the breaker")
)

// breaker is one webhook's circuit breaker, with the time it last opened so
// that a refused callout can say when to try again.
type breaker struct {
	cb     *gobreaker.TwoStepCircuitBreaker[struct{}]
	config breakerConfig

	// retired is set when a changed webhook got a new breaker: callouts
	// still under way on this one must not report its state any more.
	retired atomic.Bool

	mu       sync.Mutex
	openedAt time.Time
}

// retryAfter is how long until the open period ends, as of now.
func (b *breaker) retryAfter(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.openedAt.Add(b.config.open).Sub(now), 0)
}

// breakers holds one breaker per webhook, for the life of the process.
type breakers struct {
	now      func() time.Time
	log      *slog.Logger
	onChange func(manufacturer string, kind callout.Kind, from, to string)

	mu sync.Mutex
	m  map[breakerKey]*breaker
}

// get returns the webhook's breaker, building a new one when there is none or
// when the webhook's settings changed since it was built.
func (bs *breakers) get(w *callout.Webhook) *breaker {
	key := breakerKey{w.ManufacturerID, w.Kind}
	config := configOf(w)
	bs.mu.Lock()
	defer bs.mu.Unlock()
	old, ok := bs.m[key]
	if ok && old.config == config {
		return old
	}
	b := &breaker{config: config}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        w.ManufacturerID + "/" + string(w.Kind),
		MaxRequests: 1,
		Timeout:     config.open,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(config.failures)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errBreakerExclude) },
		// OnStateChange runs under the breaker's own lock: it must not call
		// back into the breaker.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.mu.Lock()
				b.openedAt = bs.now()
				b.mu.Unlock()
			}
			if b.retired.Load() {
				return
			}
			bs.log.Warn("circuit breaker state changed",
				"manufacturer", key.manufacturer, "kind", string(key.kind),
				"from", from.String(), "to", to.String())
			if bs.onChange != nil {
				bs.onChange(key.manufacturer, key.kind, from.String(), to.String())
			}
		},
	})
	if bs.m == nil {
		bs.m = make(map[breakerKey]*breaker)
	}
	bs.m[key] = b
	// The replaced breaker's state is reported as ended, so that a gauge of
	// breaker states does not stay open for a webhook that was fixed.
	if ok {
		old.retired.Store(true)
		if st := old.cb.State(); st != gobreaker.StateClosed && bs.onChange != nil {
			bs.onChange(key.manufacturer, key.kind, st.String(), gobreaker.StateClosed.String())
		}
	}
	return b
}

// trialBusy reports whether the breaker refused a callout because it is
// half-open and its one trial is under way.
func trialBusy(err error) bool { return errors.Is(err, gobreaker.ErrTooManyRequests) }
