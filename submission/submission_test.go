package submission_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/clocktest"
	"github.com/callout/callout/submission"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func newService(st *memStore, m *manufacturer, now func() time.Time) *submission.Service {
	var ids sync.Mutex
	n := 0
	return submission.New(submission.Options{
		Store:   st,
		Caller:  m,
		Replies: replies{},
		Now:     now,
		NewID: func() string {
			ids.Lock()
			defer ids.Unlock()
			n++
			return "claim-" + string(rune('a'+n))
		},
		Poll: time.Millisecond,
	})
}

func submit(t *testing.T, s *submission.Service, jobID, key string) *submission.Reply {
	t.Helper()
	reply, err := s.Submit(context.Background(), submission.Request{ManufacturerID: mfr, JobID: jobID, IdempotencyKey: key})
	if err != nil {
		t.Fatalf("Submit(%s, key %q): %v", jobID, key, err)
	}
	return reply
}

func TestIdempotencyKeys(t *testing.T) {
	tests := []struct {
		name string
		// The second request: its job, and how long after the first it comes.
		job   string
		after time.Duration
		// What it gets: a replay of the first response, or this body.
		wantReplay bool
		wantBody   string
		wantCode   string // an error instead
	}{
		{name: "same key, same job, within the window", job: "j1", after: time.Hour, wantReplay: true},
		{name: "same key, same job, just inside the window", job: "j1", after: callout.IdempotencyWindow - time.Second, wantReplay: true},
		{name: "same key, same job, after the window", job: "j1", after: callout.IdempotencyWindow, wantBody: callout.ECodeAlreadySubmitted},
		{name: "same key, another job", job: "j2", after: time.Minute, wantCode: callout.ECodeIdempotencyReused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New(t0)
			st := newMemStore(clock.Now, "j1", "j2")
			m := &manufacturer{}
			s := newService(st, m, clock.Now)
			first := submit(t, s, "j1", "key-1")
			clock.Add(tt.after)

			reply, err := s.Submit(context.Background(), submission.Request{ManufacturerID: mfr, JobID: tt.job, IdempotencyKey: "key-1"})
			if tt.wantCode != "" {
				if got := callout.ErrorCode(err); got != tt.wantCode {
					t.Fatalf("second Submit: error %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("second Submit: %v", err)
			}
			if reply.Replayed != tt.wantReplay {
				t.Errorf("Replayed = %t, want %t", reply.Replayed, tt.wantReplay)
			}
			want := string(first.Body)
			if !tt.wantReplay {
				want = tt.wantBody
			}
			if string(reply.Body) != want {
				t.Errorf("second body = %q, want %q", reply.Body, want)
			}
			if got := m.calls.Load(); got != 1 {
				t.Errorf("%d callouts, want 1", got)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	for _, key := range []string{"", " ", "a b", "5f0c…", string(make([]byte, 256))} {
		if callout.ErrorCode(submission.CheckKey(key)) != callout.ECodeInvalid {
			t.Errorf("CheckKey(%q) accepted, want validation_failed", key)
		}
	}
	if err := submission.CheckKey("5f0c3e1a-ok"); err != nil {
		t.Errorf("CheckKey of a good key: %v", err)
	}
}

func TestAwaitsAHeldClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore(time.Now, "j1")
		st.hold("j1", "other", time.Minute)
		m := &manufacturer{}
		s := newService(st, m, time.Now)
		theirs := callout.Response{Status: 200, Body: []byte("their answer")}
		go func() {
			time.Sleep(10 * time.Second)
			st.finishHeld("j1", "other", theirs)
		}()

		reply := submit(t, s, "j1", "")
		if string(reply.Body) != string(theirs.Body) {
			t.Errorf("body = %q, want the holder's %q", reply.Body, theirs.Body)
		}
		if got := m.calls.Load(); got != 0 {
			t.Errorf("%d callouts, want 0: the holder made it", got)
		}
	})
}

func TestReclaimsAnExpiredLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore(time.Now, "j1")
		// Another process claimed the job and died: no response will come.
		st.hold("j1", "dead", time.Minute)
		m := &manufacturer{}
		s := newService(st, m, time.Now)
		start := time.Now()

		reply := submit(t, s, "j1", "")
		if string(reply.Body) != "submitted j1 as EXT-j1-1" {
			t.Errorf("body = %q, want this caller's own submission", reply.Body)
		}
		if got := m.calls.Load(); got != 1 {
			t.Errorf("%d callouts, want 1", got)
		}
		if waited := time.Since(start); waited < time.Minute {
			t.Errorf("claimed again after %v, before the lease ended", waited)
		}
	})
}

func TestClaimLost(t *testing.T) {
	st := newMemStore(time.Now, "j1")
	st.finishErr = &callout.Error{Code: callout.ECodeSubmitInProgress, Message: "taken over"}
	m := &manufacturer{}
	s := newService(st, m, time.Now)

	reply, err := s.Submit(context.Background(), submission.Request{ManufacturerID: mfr, JobID: "j1", IdempotencyKey: "k"})
	if callout.ErrorCode(err) != callout.ECodeSubmitInProgress || reply != nil {
		t.Errorf("Submit after a lost claim = %v, %v; want no reply and submission_in_progress", reply, err)
	}
	if _, err := st.GetIdempotency(context.Background(), mfr, "k"); callout.ErrorCode(err) != callout.ECodeNotFound {
		t.Errorf("the key was kept for a submission that was not recorded: %v", err)
	}
}

// TestConcurrentSubmitsShareOneCallout covers callers that join the callout
// in flight and callers that arrived during it but ask only after it ended
// (they waited for a callout slot): all get the one answer.
func TestConcurrentSubmitsShareOneCallout(t *testing.T) {
	clock := clocktest.New(t0)
	st := newMemStore(clock.Now, "j1")
	m := &manufacturer{called: make(chan struct{}, 1), hold: make(chan struct{})}
	s := newService(st, m, clock.Now)

	const n = 20
	bodies := make([]string, n)
	var wg sync.WaitGroup
	ask := func(i int, arrived time.Time) {
		reply, err := s.Submit(context.Background(), submission.Request{ManufacturerID: mfr, JobID: "j1", Arrived: arrived})
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
			return
		}
		bodies[i] = string(reply.Body)
	}
	wg.Go(func() { ask(0, clock.Now()) })
	<-m.called
	arrived := clock.Now()
	for i := 1; i < n/2; i++ {
		wg.Go(func() { ask(i, arrived) })
	}
	clock.Add(time.Second)
	close(m.hold)
	wg.Wait()
	for i := n / 2; i < n; i++ {
		ask(i, arrived)
	}
	if got := m.calls.Load(); got != 1 {
		t.Errorf("%d callouts, want 1", got)
	}
	for i, b := range bodies {
		if b != bodies[0] || b == "" {
			t.Errorf("caller %d got %q, want %q like the first", i, b, bodies[0])
		}
	}
	// A submit that arrives after the submission ended is told so.
	clock.Add(time.Millisecond)
	late := submit(t, s, "j1", "")
	if string(late.Body) != callout.ECodeAlreadySubmitted {
		t.Errorf("a later submit got %q, want %s", late.Body, callout.ECodeAlreadySubmitted)
	}
}

func TestOutboundKey(t *testing.T) {
	here, there := []byte("installation-1"), []byte("installation-2")
	job := &callout.Job{ManufacturerID: mfr, ID: "j1", Revision: 1}
	k1 := submission.OutboundKey(here, job)
	if k1 != submission.OutboundKey(here, job) {
		t.Error("the outbound key changed between two calls for one revision")
	}
	if !strings.HasPrefix(k1, "callout-") || len(k1) != len("callout-")+32 {
		t.Errorf("got key %q, want callout- and 32 hex digits", k1)
	}
	if submission.OutboundKey(there, job) == k1 {
		t.Error("another installation sends the same key for the same job and revision")
	}
	job.Revision = 2
	if submission.OutboundKey(here, job) == k1 {
		t.Error("a new revision kept the outbound key")
	}
}
