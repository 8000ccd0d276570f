// Package flight shares one call among identical requests: those that come
// while it is in flight, and those that arrived while it was in flight but
// got to ask for it only after it ended (their own reads or a queue held them
// up). golang.org/x/sync/singleflight does the first only, so a request whose
// reads finish a moment after the shared call ends starts a second one.
package flight

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errPanicked is what the callers sharing a call get when it panicked.
var errPanicked = errors.New("the shared call panicked")

// Group shares calls by key. Its zero value is not usable: use New.
type Group[V any] struct {
	keep time.Duration
	now  func() time.Time

	mu    sync.Mutex
	calls map[string]*call[V]
	swept time.Time
}

type call[V any] struct {
	done  chan struct{}
	ended time.Time // set under Group.mu before done is closed
	v     V
	err   error
}

// New returns a Group that keeps a finished call's result for keep, for the
// requests that arrived while it was in flight, and reads the time from now.
// A keep of 0 shares only calls in flight.
func New[V any](keep time.Duration, now func() time.Time) *Group[V] {
	if now == nil {
		now = time.Now
	}
	return &Group[V]{keep: keep, now: now, calls: make(map[string]*call[V])}
}

// Do returns the result of fn for key: of the call in flight, of the last
// call if it ended no earlier than arrived (the caller arrived while it was
// in flight, or even before it started) and is not older than keep, or else
// of a new call of fn, made by this caller. shared reports whether another
// caller's call answered. A caller waiting on another's call leaves when ctx
// ends; the call goes on for the others.
func (g *Group[V]) Do(ctx context.Context, key string, arrived time.Time, fn func() (V, error)) (v V, err error, shared bool) {
	g.mu.Lock()
	g.sweep()
	if c, ok := g.calls[key]; ok {
		select {
		case <-c.done:
			if !arrived.After(c.ended) && g.now().Sub(c.ended) <= g.keep {
				g.mu.Unlock()
				return c.v, c.err, true
			}
		default:
			g.mu.Unlock()
			select {
			case <-c.done:
				return c.v, c.err, true
			case <-ctx.Done():
				return v, ctx.Err(), true
			}
		}
	}
	c := &call[V]{done: make(chan struct{}), err: errPanicked}
	g.calls[key] = c
	g.mu.Unlock()

	defer func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		c.ended = g.now()
		close(c.done)
		if g.keep <= 0 && g.calls[key] == c {
			delete(g.calls, key)
		}
	}()
	c.v, c.err = fn()
	return c.v, c.err, false
}

// sweep drops the calls that ended more than keep ago, at most once per keep
// so that a busy group does not walk its map on every call. g.mu is held.
func (g *Group[V]) sweep() {
	if g.keep <= 0 {
		return
	}
	now := g.now()
	if now.Sub(g.swept) < g.keep {
		return
	}
	g.swept = now
	for key, c := range g.calls {
		select {
		case <-c.done:
			if now.Sub(c.ended) > g.keep {
				delete(g.calls, key)
			}
		default:
		}
	}
}
