package flight

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callout/callout/internal/clocktest"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func TestDo(t *testing.T) {
	tests := []struct {
		name string
		keep time.Duration
		// arrivedAfter is when the second request arrived, measured from
		// the end of the first call; askAfter is when it asks.
		arrivedAfter time.Duration
		askAfter     time.Duration
		wantCalls    int32
	}{
		{"arrived during the call, asks after it ended", 5 * time.Second, -time.Millisecond, time.Second, 1},
		{"arrived as the call ended", 5 * time.Second, 0, time.Second, 1},
		{"arrived after the call ended", 5 * time.Second, time.Millisecond, time.Second, 2},
		{"arrived during the call, asks after keep", 5 * time.Second, -time.Millisecond, 6 * time.Second, 2},
		{"keep 0 shares only calls in flight", 0, -time.Millisecond, time.Millisecond, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New(t0)
			g := New[int](tt.keep, clock.Now)
			var calls atomic.Int32
			fn := func() (int, error) { return int(calls.Add(1)), nil }

			if v, err, shared := g.Do(context.Background(), "k", clock.Now(), fn); v != 1 || err != nil || shared {
				t.Fatalf("first Do = %d, %v, shared %t; want 1, nil, false", v, err, shared)
			}
			arrived := clock.Now().Add(tt.arrivedAfter)
			clock.Add(tt.askAfter)
			v, err, _ := g.Do(context.Background(), "k", arrived, fn)
			if err != nil || calls.Load() != tt.wantCalls || v != int(tt.wantCalls) {
				t.Errorf("second Do = %d, %v after %d calls; want %d calls, the last one's value", v, err, calls.Load(), tt.wantCalls)
			}
		})
	}
}

func TestDoSharesACallInFlight(t *testing.T) {
	clock := clocktest.New(t0)
	g := New[string](time.Second, clock.Now)
	release := make(chan struct{})
	started := make(chan struct{})
	var calls atomic.Int32
	fn := func() (string, error) {
		calls.Add(1)
		close(started)
		<-release
		return "answer", nil
	}
	var wg sync.WaitGroup
	results := make([]string, 10)
	wg.Go(func() { results[0], _, _ = g.Do(context.Background(), "k", clock.Now(), fn) })
	<-started
	for i := 1; i < len(results); i++ {
		arrived := clock.Now()
		// Some ask while the call is in flight, some after it ended: all
		// arrived before it ended.
		wg.Go(func() { results[i], _, _ = g.Do(context.Background(), "k", arrived, fn) })
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	for i, r := range results {
		if r != "answer" {
			t.Errorf("caller %d got %q, want the shared answer", i, r)
		}
	}
}

func TestDoWaiterLeavesOnItsContext(t *testing.T) {
	g := New[int](0, nil)
	release := make(chan struct{})
	started := make(chan struct{})
	go g.Do(context.Background(), "k", time.Now(), func() (int, error) {
		close(started)
		<-release
		return 1, nil
	})
	defer close(release)
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err, shared := g.Do(ctx, "k", time.Now(), func() (int, error) { return 2, nil })
	if !errors.Is(err, context.Canceled) || !shared {
		t.Errorf("Do with an ended context = %v, shared %t; want context.Canceled while waiting", err, shared)
	}
}

func TestDoPanicFailsTheWaiters(t *testing.T) {
	g := New[int](time.Minute, nil)
	func() {
		defer func() { _ = recover() }()
		g.Do(context.Background(), "k", time.Now(), func() (int, error) { panic("boom") })
	}()
	_, err, shared := g.Do(context.Background(), "k", time.Now().Add(-time.Second), func() (int, error) { return 1, nil })
	if !errors.Is(err, errPanicked) || !shared {
		t.Errorf("Do after a panicked call = %v, shared %t; want errPanicked, shared", err, shared)
	}
}

func TestSweepDropsOldCalls(t *testing.T) {
	clock := clocktest.New(t0)
	g := New[int](time.Second, clock.Now)
	for _, k := range []string{"a", "b", "c"} {
		g.Do(context.Background(), k, clock.Now(), func() (int, error) { return 1, nil })
	}
	clock.Add(3 * time.Second)
	g.Do(context.Background(), "d", clock.Now(), func() (int, error) { return 1, nil })
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.calls) != 1 {
		t.Errorf("%d calls kept after the sweep, want 1 (the new one)", len(g.calls))
	}
}
