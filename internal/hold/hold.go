// Package hold lets a fake server hold its answers until its test releases
// them, and tells the test when requests are being held, so that the test
// waits on events rather than sleeping. The fakes of the manufacturer and of
// Auth0 share it.
package hold

import (
	"context"
	"sync"
)

// Gate holds the requests that wait on it while it is shut. The zero Gate is
// open. It is safe for concurrent use.
type Gate struct {
	mu      sync.Mutex
	release chan struct{} // closed to release held requests; nil when open
	closing chan struct{} // closed by Close; made on first use
	held    int           // requests being held
	waiters []waiter
}

// waiter is a caller of Held.
type waiter struct {
	n    int
	done chan struct{}
}

// Hold shuts the gate: the requests that wait on it from now on are held
// until release is called, the gate is closed, or they give up. Calling
// release again does nothing.
func (g *Gate) Hold() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.release = ch
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			close(ch)
			if g.release == ch {
				g.release = nil
			}
		})
	}
}

// Held returns a channel closed once n requests are being held at the same
// time.
func (g *Gate) Held(n int) <-chan struct{} {
	done := make(chan struct{})
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held >= n {
		close(done)
	} else {
		g.waiters = append(g.waiters, waiter{n, done})
	}
	return done
}

// Wait returns at once while the gate is open; while it is shut, it returns
// once the gate is released or closed, or ctx is done.
func (g *Gate) Wait(ctx context.Context) {
	g.mu.Lock()
	release, closing := g.release, g.closingLocked()
	if release == nil {
		g.mu.Unlock()
		return
	}
	g.held++
	g.wake()
	g.mu.Unlock()

	select {
	case <-release:
	case <-closing:
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.held--
	g.mu.Unlock()
}

// Close releases the held requests, and lets every later one through.
func (g *Gate) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	closing := g.closingLocked()
	select {
	case <-closing:
	default:
		close(closing)
	}
}

// closingLocked returns the channel Close closes. g.mu is held.
func (g *Gate) closingLocked() chan struct{} {
	if g.closing == nil {
		g.closing = make(chan struct{})
	}
	return g.closing
}

// wake closes the channels of the waiters whose count is reached. g.mu is
// held.
func (g *Gate) wake() {
	waiting := g.waiters[:0]
	for _, w := range g.waiters {
		if g.held >= w.n {
			close(w.done)
		} else {
			waiting = append(waiting, w)
		}
	}
	g.waiters = waiting
}
