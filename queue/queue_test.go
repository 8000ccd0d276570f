package queue

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/storetest"
	"github.com/callout/callout/store"
)

// runs is a Deliverer that asks for one more run after each of the first
// snoozes runs of a message, and reports every run.
type runs struct {
	snoozes int
	mu      sync.Mutex
	count   map[callout.MessageKey]int
	waits   []int // as each run was told
	ran     chan callout.MessageKey
}

func (r *runs) Deliver(_ context.Context, k callout.MessageKey, waits int) (bool, time.Duration, error) {
	r.mu.Lock()
	r.count[k]++
	n := r.count[k]
	r.waits = append(r.waits, waits)
	r.mu.Unlock()
	r.ran <- k
	return n > r.snoozes, 10 * time.Millisecond, nil
}

func start(t *testing.T, s *storetest.Opened, d Deliverer) *Queue {
	t.Helper()
	ctx := context.Background()
	q, err := New(ctx, Options{Store: s.Store, URL: s.URL, Deliverer: d, Workers: 4})
	if err != nil {
		t.Fatalf("queue.New: %v", err)
	}
	s.SetEnqueuer(q)
	if err := q.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return q
}

// TestPublishedMessagesAreWorked: a message committed with its event is
// worked once per run asked for; a snooze brings the job back, and a
// finished message is not run again.
func TestPublishedMessagesAreWorked(t *testing.T) {
	for _, dialect := range storetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			s := storetest.Open(t, dialect, store.Options{})
			d := &runs{snoozes: 2, count: map[callout.MessageKey]int{}, ran: make(chan callout.MessageKey, 100)}
			start(t, s, d)
			ctx := context.Background()
			if _, _, err := s.PutManufacturer(ctx, "103", "M"); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"a", "b"} {
				ep := &callout.Endpoint{ManufacturerID: "103", ID: id, URL: "https://x.example.com/" + id, Enabled: true}
				ep.SetDefaults()
				if err := s.PutEndpoint(ctx, ep); err != nil {
					t.Fatal(err)
				}
			}
			began := time.Now()
			res, err := s.PublishEvent(ctx, &callout.Event{ManufacturerID: "103", Type: "x", Data: []byte(`{}`)}, "")
			if err != nil || res.Messages != 2 {
				t.Fatalf("PublishEvent = %+v, %v", res, err)
			}
			want := map[string]int{"a": 3, "b": 3}
			got := map[string]int{}
			var first time.Duration
			timeout := time.After(20 * time.Second)
			for got["a"]+got["b"] < 6 {
				select {
				case k := <-d.ran:
					if k.EventID != res.Event.ID {
						t.Fatalf("ran %+v, want event %s", k, res.Event.ID)
					}
					got[k.EndpointID]++
					if first == 0 {
						first = time.Since(began)
					}
				case <-timeout:
					t.Fatalf("runs after 20 s: %v, want %v", got, want)
				}
			}
			d.mu.Lock()
			slices.Sort(d.waits) // the two messages' runs interleave
			if got := fmt.Sprint(d.waits); got != "[0 0 1 1 2 2]" {
				t.Errorf("runs were told of %s earlier waits, want [0 0 1 1 2 2]", got)
			}
			d.mu.Unlock()
			t.Logf("%s: first run %s after the publish, 6 runs (2 messages, 2 snoozes each) in %s", dialect, first, time.Since(began))
			select {
			case k := <-d.ran:
				t.Errorf("a finished message ran again: %+v", k)
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
}

// TestOnlyWorkingWritesSkipTheDiskWait: on PostgreSQL the working client's
// writes commit without waiting for the disk, while the store's, which
// insert the jobs with their messages, still wait: a publish answered 202
// survives a crash.
func TestOnlyWorkingWritesSkipTheDiskWait(t *testing.T) {
	for _, dialect := range storetest.Dialects() {
		if dialect != store.DialectPostgres {
			continue
		}
		s := storetest.Open(t, dialect, store.Options{})
		q := start(t, s, &runs{count: map[callout.MessageKey]int{}, ran: make(chan callout.MessageKey, 1)})
		ctx := context.Background()
		var working, stored string
		if err := q.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&working); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if working != "off" || stored != "on" {
			t.Errorf("synchronous_commit: working client %q, store %q; want off, on", working, stored)
		}
	}
}
