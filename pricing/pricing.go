// Package pricing prices jobs through the manufacturer's pricing webhook, or
// from the job document's own cost when no pricing webhook is enabled. A
// failed callout falls back to the job's previous pricing, marked stale.
package pricing

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/answer"
	"github.com/callout/callout/internal/flight"
)

// Store is what pricing needs of storage.
type Store interface {
	// GetPricingInputs reads the job, its customer (nil when there is none)
	// and the manufacturer's webhook of kind (nil when there is none) in one
	// read: a price runs on the hot path, and one read is one round trip.
	GetPricingInputs(ctx context.Context, manufacturerID, jobID string, kind callout.Kind) (*callout.Job, *callout.Customer, *callout.Webhook, error)
	SavePricing(ctx context.Context, manufacturerID, jobID string, p *callout.Pricing, d *callout.Delivery) error
	InsertDelivery(ctx context.Context, d *callout.Delivery) error
}

// Caller makes callouts; *dispatch.Dispatcher is one.
type Caller interface {
	Call(ctx context.Context, c callout.Call) (*callout.Result, error)
}

// DefaultShareWindow is how long a finished price callout answers the
// identical requests that arrived while it was in flight but got to it only
// afterwards (a slow read, a wait for a callout slot). A request that waited
// longer makes a callout of its own, which pricing allows.
const DefaultShareWindow = 5 * time.Second

// Options configure a Service.
type Options struct {
	Store  Store
	Caller Caller
	Now    func() time.Time
}

// Service prices jobs.
type Service struct {
	store  Store
	caller Caller
	now    func() time.Time
	flight *flight.Group[*Quote]
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, caller: o.Caller, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	s.flight = flight.New[*Quote](DefaultShareWindow, s.now)
	return s
}

// Request is one price call.
type Request struct {
	ManufacturerID string
	JobID          string
	RequestID      string
	// Arrived is when the request came in; the zero time means now. An
	// identical callout in flight then answers it, even if it ends before
	// this request has read the job.
	Arrived time.Time
}

// Quote is a job's price as the customer is shown it.
type Quote struct {
	callout.Pricing
	// Stale marks a previous pricing shown because a new one could not be had.
	Stale bool `json:"stale"`
}

// Price prices a job. When the callout does not end accepted, the error is a
// *callout.Error whose Extra "previous" holds the job's last pricing, stale,
// or nil.
func (s *Service) Price(ctx context.Context, r Request) (*Quote, error) {
	if r.Arrived.IsZero() {
		r.Arrived = s.now()
	}
	job, customer, wh, err := s.store.GetPricingInputs(ctx, r.ManufacturerID, r.JobID, callout.KindPricing)
	if err != nil {
		return nil, fmt.Errorf("pricing job %s: %w", r.JobID, err)
	}
	if wh == nil || !wh.Enabled {
		return s.builtin(ctx, job)
	}
	if customer == nil {
		// Only a webhook needs the customer: the builtin price does not.
		return nil, fmt.Errorf("pricing job %s: reading customer %s: %w", r.JobID, job.CustomerID,
			callout.NotFound("customer "+job.CustomerID))
	}
	if q := s.cached(wh, job, customer); q != nil {
		return q, nil
	}
	// Identical concurrent requests (same job content, customer and webhook
	// settings) share one callout, which no single caller going away cuts short.
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%d", r.ManufacturerID, r.JobID, job.Revision,
		customer.UpdatedAt.UnixNano(), wh.UpdatedAt.UnixNano())
	v, err, _ := s.flight.Do(ctx, key, r.Arrived, func() (*Quote, error) {
		return s.call(context.WithoutCancel(ctx), r, wh, job, customer)
	})
	if err != nil {
		return nil, err
	}
	q := *v
	return &q, nil
}

// cached returns the job's accepted pricing when the webhook allows reusing it
// and nothing it was computed from has changed since.
func (s *Service) cached(wh *callout.Webhook, job *callout.Job, customer *callout.Customer) *Quote {
	p := job.Pricing
	if wh.CacheSeconds <= 0 || p == nil || p.Source != callout.PricingWebhook || p.Revision != job.Revision {
		return nil
	}
	if p.PricedAt.Before(customer.UpdatedAt) || p.PricedAt.Before(wh.UpdatedAt) {
		return nil
	}
	if s.now().Sub(p.PricedAt) >= time.Duration(wh.CacheSeconds)*time.Second {
		return nil
	}
	return &Quote{Pricing: *p}
}

func (s *Service) call(ctx context.Context, r Request, wh *callout.Webhook, job *callout.Job, customer *callout.Customer) (*Quote, error) {
	result, err := s.caller.Call(ctx, callout.Call{
		Webhook:   wh,
		Job:       job,
		Customer:  customer.Document,
		RequestID: r.RequestID,
	})
	if err != nil {
		return nil, fmt.Errorf("pricing job %s: %w", r.JobID, err)
	}
	delivery := result.Delivery
	if result.Outcome != callout.OutcomeAccepted {
		if delivery.Kept() {
			if err := s.store.InsertDelivery(ctx, delivery); err != nil {
				return nil, fmt.Errorf("pricing job %s: recording the delivery: %w", r.JobID, err)
			}
		}
		e := result.Failure(wh, "pricing")
		e.Extra = map[string]any{"previous": previous(job)}
		return nil, e
	}
	p := &callout.Pricing{
		Cost:      result.Cost,
		Messages:  nonNil(result.Messages),
		Breakdown: result.Breakdown,
		Source:    callout.PricingWebhook,
		PricedAt:  s.now().UTC().Truncate(time.Microsecond),
		Revision:  job.Revision,
	}
	if p.Breakdown == nil {
		p.Breakdown = []callout.BreakdownNode{}
	}
	if err := s.store.SavePricing(ctx, r.ManufacturerID, r.JobID, p, delivery); err != nil {
		return nil, fmt.Errorf("pricing job %s: saving: %w", r.JobID, err)
	}
	return &Quote{Pricing: *p}, nil
}

// builtin prices a job from its document's own cost.
func (s *Service) builtin(ctx context.Context, job *callout.Job) (*Quote, error) {
	var doc struct {
		Cost json.RawMessage `json:"cost"`
	}
	if err := json.Unmarshal(job.Document, &doc); err != nil {
		return nil, fmt.Errorf("pricing job %s: reading the job document: %w", job.ID, err)
	}
	cost, ok := answer.ParseCost(doc.Cost)
	if !ok {
		return nil, callout.Invalid(callout.FieldError{Field: "job.cost", Message: "the job document has no usable cost, and no pricing webhook is enabled"})
	}
	p := &callout.Pricing{
		Cost:      cost,
		Messages:  []string{},
		Breakdown: []callout.BreakdownNode{},
		Source:    callout.PricingBuiltin,
		PricedAt:  s.now().UTC().Truncate(time.Microsecond),
		Revision:  job.Revision,
	}
	if err := s.store.SavePricing(ctx, job.ManufacturerID, job.ID, p, nil); err != nil {
		return nil, fmt.Errorf("pricing job %s: saving: %w", job.ID, err)
	}
	return &Quote{Pricing: *p}, nil
}

// previous is the job's last pricing, marked stale, or nil.
func previous(job *callout.Job) *Quote {
	if job.Pricing == nil {
		return nil
	}
	return &Quote{Pricing: *job.Pricing, Stale: true}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
