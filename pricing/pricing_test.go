package pricing_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/clocktest"
	"github.com/callout/callout/pricing"
)

const mfr = "103"

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// memStore is an in-memory pricing.Store holding one job, its customer and
// the pricing webhook.
type memStore struct {
	mu         sync.Mutex
	job        callout.Job
	customer   callout.Customer
	webhook    *callout.Webhook // nil for none
	saved      []*callout.Pricing
	deliveries []*callout.Delivery
}

var _ pricing.Store = (*memStore)(nil)

func newMemStore(now time.Time) *memStore {
	return &memStore{
		job:      callout.Job{ID: "j1", ManufacturerID: mfr, CustomerID: "c1", Revision: 1, Document: []byte(`{"id": "j1", "cost": 99.5}`)},
		customer: callout.Customer{ID: "c1", ManufacturerID: mfr, Document: []byte(`{}`), UpdatedAt: now.Add(-time.Hour)},
		webhook:  &callout.Webhook{ManufacturerID: mfr, Kind: callout.KindPricing, Enabled: true, UpdatedAt: now.Add(-time.Hour)},
	}
}

func (s *memStore) GetPricingInputs(context.Context, string, string, callout.Kind) (*callout.Job, *callout.Customer, *callout.Webhook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	job, customer := s.job, s.customer
	var wh *callout.Webhook
	if s.webhook != nil {
		w := *s.webhook
		wh = &w
	}
	return &job, &customer, wh, nil
}

func (s *memStore) SavePricing(_ context.Context, _, _ string, p *callout.Pricing, d *callout.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saved = append(s.saved, p)
	s.job.Pricing = p
	if d != nil {
		s.deliveries = append(s.deliveries, d)
	}
	return nil
}

func (s *memStore) InsertDelivery(_ context.Context, d *callout.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
	return nil
}

// manufacturer is a pricing.Caller answering with outcome (accepted: cost
// 1234.56), counting its callouts; with hold set, each waits for it to close.
type manufacturer struct {
	outcome callout.Outcome
	calls   atomic.Int32
	called  chan struct{}
	hold    chan struct{}
}

func (m *manufacturer) Call(context.Context, callout.Call) (*callout.Result, error) {
	m.calls.Add(1)
	if m.called != nil {
		m.called <- struct{}{}
	}
	if m.hold != nil {
		<-m.hold
	}
	r := &callout.Result{Outcome: m.outcome, Delivery: &callout.Delivery{ID: "d", Outcome: m.outcome}}
	if m.outcome == callout.OutcomeAccepted {
		r.Cost = "1234.56"
	}
	return r, nil
}

func TestFailedPriceShowsThePreviousOne(t *testing.T) {
	for _, outcome := range []callout.Outcome{callout.OutcomeTimeout, callout.OutcomeRejected, callout.OutcomeBadResponse} {
		t.Run(string(outcome), func(t *testing.T) {
			st := newMemStore(t0)
			st.job.Pricing = &callout.Pricing{Cost: "10.00", Source: callout.PricingWebhook, PricedAt: t0.Add(-time.Minute), Revision: 1}
			s := pricing.New(pricing.Options{Store: st, Caller: &manufacturer{outcome: outcome}, Now: func() time.Time { return t0 }})

			_, err := s.Price(context.Background(), pricing.Request{ManufacturerID: mfr, JobID: "j1"})
			var e *callout.Error
			if !errors.As(err, &e) || e.Code != string(outcome) {
				t.Fatalf("Price = %v, want a %s error", err, outcome)
			}
			prev, _ := e.Extra["previous"].(*pricing.Quote)
			if prev == nil || prev.Cost != "10.00" || !prev.Stale {
				t.Errorf("previous = %+v, want the last pricing (10.00), stale", prev)
			}
			if len(e.Errors) == 0 {
				t.Error("no errors for the customer")
			}
			if len(st.saved) != 0 || len(st.deliveries) != 1 {
				t.Errorf("%d pricings saved and %d deliveries, want 0 and 1", len(st.saved), len(st.deliveries))
			}
		})
	}
	t.Run("no previous pricing", func(t *testing.T) {
		s := pricing.New(pricing.Options{Store: newMemStore(t0), Caller: &manufacturer{outcome: callout.OutcomeTimeout}})
		_, err := s.Price(context.Background(), pricing.Request{ManufacturerID: mfr, JobID: "j1"})
		var e *callout.Error
		if !errors.As(err, &e) || e.Extra["previous"] != (*pricing.Quote)(nil) {
			t.Errorf("Price = %v, want an error with previous null", err)
		}
	})
}

func TestCacheSeconds(t *testing.T) {
	tests := []struct {
		name         string
		cacheSeconds int
		age          time.Duration // of the last pricing
		change       func(*memStore)
		wantCallouts int32
	}{
		{name: "fresh pricing is reused", cacheSeconds: 60, age: 59 * time.Second, wantCallouts: 0},
		{name: "cache off", cacheSeconds: 0, age: time.Second, wantCallouts: 1},
		{name: "expired", cacheSeconds: 60, age: 60 * time.Second, wantCallouts: 1},
		{name: "job documents replaced", cacheSeconds: 60, age: time.Second, change: func(s *memStore) { s.job.Revision = 2 }, wantCallouts: 1},
		{name: "customer changed", cacheSeconds: 60, age: 2 * time.Second, change: func(s *memStore) { s.customer.UpdatedAt = t0.Add(-time.Second) }, wantCallouts: 1},
		{name: "webhook changed", cacheSeconds: 60, age: 2 * time.Second, change: func(s *memStore) { s.webhook.UpdatedAt = t0.Add(-time.Second) }, wantCallouts: 1},
		{name: "builtin pricing is not reused", cacheSeconds: 60, age: time.Second, change: func(s *memStore) { s.job.Pricing.Source = callout.PricingBuiltin }, wantCallouts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore(t0)
			st.webhook.CacheSeconds = tt.cacheSeconds
			st.job.Pricing = &callout.Pricing{Cost: "10.00", Source: callout.PricingWebhook, PricedAt: t0.Add(-tt.age), Revision: 1}
			if tt.change != nil {
				tt.change(st)
			}
			m := &manufacturer{outcome: callout.OutcomeAccepted}
			s := pricing.New(pricing.Options{Store: st, Caller: m, Now: func() time.Time { return t0 }})

			q, err := s.Price(context.Background(), pricing.Request{ManufacturerID: mfr, JobID: "j1"})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.calls.Load(); got != tt.wantCallouts {
				t.Errorf("%d callouts, want %d", got, tt.wantCallouts)
			}
			want := json.Number("10.00")
			if tt.wantCallouts > 0 {
				want = "1234.56"
			}
			if q.Cost != want || q.Stale {
				t.Errorf("cost %s (stale %t), want %s, fresh", q.Cost, q.Stale, want)
			}
		})
	}
}

func TestBuiltinPrice(t *testing.T) {
	st := newMemStore(t0)
	st.webhook.Enabled = false
	m := &manufacturer{outcome: callout.OutcomeAccepted}
	q, err := pricing.New(pricing.Options{Store: st, Caller: m}).Price(context.Background(), pricing.Request{ManufacturerID: mfr, JobID: "j1"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Cost != "99.5" || q.Source != callout.PricingBuiltin || m.calls.Load() != 0 {
		t.Errorf("quote %s from %s after %d callouts, want the job's own 99.5, builtin, none", q.Cost, q.Source, m.calls.Load())
	}

	st.job.Document = []byte(`{"id": "j1"}`)
	_, err = pricing.New(pricing.Options{Store: st, Caller: m}).Price(context.Background(), pricing.Request{ManufacturerID: mfr, JobID: "j1"})
	if callout.ErrorCode(err) != callout.ECodeInvalid {
		t.Errorf("a job without cost and no webhook: %v, want validation_failed", err)
	}
}

// TestIdenticalPricesShareOneCallout covers requests that join the callout
// in flight and requests that arrived during it but ask only after it ended:
// one callout answers them all.
func TestIdenticalPricesShareOneCallout(t *testing.T) {
	clock := clocktest.New(t0)
	st := newMemStore(t0)
	m := &manufacturer{outcome: callout.OutcomeAccepted, called: make(chan struct{}, 1), hold: make(chan struct{})}
	s := pricing.New(pricing.Options{Store: st, Caller: m, Now: clock.Now})

	const n = 20
	costs := make([]json.Number, n)
	var wg sync.WaitGroup
	ask := func(i int, arrived time.Time) {
		q, err := s.Price(context.Background(), pricing.Request{ManufacturerID: mfr, JobID: "j1", Arrived: arrived})
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
			return
		}
		costs[i] = q.Cost
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
	for i, c := range costs {
		if c != "1234.56" {
			t.Errorf("caller %d got %q, want the shared 1234.56", i, c)
		}
	}
	// A request that arrives after the callout ended makes its own.
	clock.Add(time.Millisecond)
	m.hold = nil
	ask(0, clock.Now())
	if got := m.calls.Load(); got != 2 {
		t.Errorf("%d callouts after a later request, want 2", got)
	}
}
