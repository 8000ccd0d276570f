// Package events publishes the platform's events and delivers each message
// to its endpoint, one attempt per run of its queue job, on the schedule of
// the README's Events section: it validates what is published, keeps the per-endpoint limits
// (in-flight cap, rate limit, breaker) without using up attempts, records
// every attempt, and disables an endpoint that has failed for too long.
package events

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/callout/callout"
	"github.com/callout/callout/store"
	"github.com/callout/callout/webhook"
)

// Store is what publishing and delivery read and write; *store.Store is
// one.
type Store interface {
	PublishEvent(ctx context.Context, ev *callout.Event, idempotencyKey string) (*callout.PublishResult, error)
	GetMessageDelivery(ctx context.Context, k callout.MessageKey) (*store.MessageDelivery, error)
	RecordAttempt(ctx context.Context, r *store.AttemptRecord) (disabled bool, err error)
	GetEndpoint(ctx context.Context, manufacturerID, id string) (*callout.Endpoint, error)
}

// Caller makes one attempt of an event message; *webhook.Client is one.
type Caller interface {
	Deliver(ctx context.Context, r *webhook.EventRequest) *webhook.EventResult
}

// Metrics receives what happens; *metrics.Metrics is one. Nil is allowed.
type Metrics interface {
	EventPublished(manufacturer string, messages int)
	EventAttempt(manufacturer, outcome string, latency time.Duration)
}

// Defaults.
const (
	// DefaultMaxInflightPerEndpoint bounds the attempts to one endpoint
	// that one process makes at once: a hanging endpoint holds at most that
	// many workers, whatever its backlog.
	DefaultMaxInflightPerEndpoint = 4
	// busyWait is how long a message first waits when its endpoint is at
	// its in-flight cap; each further wait doubles, up to maxBusyWait, so
	// that the backlog of a hanging endpoint is not fetched again and
	// again. Each wait is jittered (half to all of it): messages that
	// waited alike would otherwise come back together, and only the cap's
	// worth of them get through each time.
	busyWait    = 50 * time.Millisecond
	maxBusyWait = 5 * time.Second
	// slotWait is how long a message first waits in the process for a
	// slot of its endpoint's in-flight cap, before it waits in the queue:
	// a fast endpoint frees one within milliseconds, and a job snoozed and
	// fetched again costs two writes. At most the cap's number of messages
	// wait so per endpoint, so a hanging endpoint holds at most twice its
	// cap of workers, the waiting ones for slotWait at a time.
	slotWait = 100 * time.Millisecond
	// minBreakerWait is the least wait for an open breaker.
	minBreakerWait = time.Second
)

// Options configure a Service.
type Options struct {
	Store  Store
	Caller Caller
	// MaxDataBytes bounds an event's data (0: 1 MiB).
	MaxDataBytes int
	// DisableAfter is how long an endpoint may fail before it is disabled
	// (0: 5 days).
	DisableAfter time.Duration
	// MaxInflightPerEndpoint bounds the attempts to one endpoint at once
	// (0: DefaultMaxInflightPerEndpoint).
	MaxInflightPerEndpoint int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Jitter returns a number in [-1, 1] that moves each retry's wait by
	// up to ±10 %; nil means a random one.
	Jitter  func() float64
	Metrics Metrics
}

// Service publishes events and delivers their messages.
type Service struct {
	store        Store
	caller       Caller
	maxData      int
	disableAfter time.Duration
	maxInflight  int
	now          func() time.Time
	jitter       func() float64
	metrics      Metrics
	slotWait     time.Duration

	mu     sync.Mutex
	slots  map[endpointKey]*slots
	limits map[endpointKey]*limiter
}

// slots are an endpoint's in-flight cap: sem holds a token per attempt
// under way; users counts the holders and waiters, so that the entry goes
// when nobody uses it.
type slots struct {
	sem            chan struct{}
	users, waiters int
}

type endpointKey struct{ manufacturer, id string }

// New returns a Service configured by o.
func New(o Options) *Service {
	s := &Service{store: o.Store, caller: o.Caller, maxData: o.MaxDataBytes, disableAfter: o.DisableAfter,
		maxInflight: o.MaxInflightPerEndpoint, now: o.Now, jitter: o.Jitter, metrics: o.Metrics, slotWait: slotWait,
		slots: map[endpointKey]*slots{}, limits: map[endpointKey]*limiter{}}
	if s.maxInflight <= 0 {
		s.maxInflight = DefaultMaxInflightPerEndpoint
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.jitter == nil {
		s.jitter = func() float64 { return rand.Float64()*2 - 1 }
	}
	return s
}

// Publication is an event as the platform publishes it.
type Publication struct {
	ManufacturerID string
	// ID is the platform's own id of the event, "" for a new one.
	ID             string
	Event          string
	Data           json.RawMessage
	IdempotencyKey string
}

// Publish validates and publishes an event: a bad type name or id, or data
// that is not a JSON object, is validation_failed; data over the limit is
// payload_too_large. Nothing is written then.
func (s *Service) Publish(ctx context.Context, p Publication) (*callout.PublishResult, error) {
	var fe callout.FieldErrors
	if !callout.ValidEventType(p.Event) {
		fe.Add("event", "must be 1 to 100 of the characters A-Z a-z 0-9 . _ : -")
	}
	if p.ID != "" && !callout.ValidID(p.ID) {
		fe.Add("id", "must be 1 to 64 of the characters A-Z a-z 0-9 . _ -")
	}
	if err := callout.CheckEventData(p.Data, s.maxData); callout.ErrorCode(err) == callout.ECodeTooLarge {
		return nil, err
	} else if err != nil {
		fe.Add("data", "must be a JSON object")
	}
	if len(p.IdempotencyKey) > 255 {
		fe.Add("Idempotency-Key", "must be at most 255 characters")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	res, err := s.store.PublishEvent(ctx, &callout.Event{ManufacturerID: p.ManufacturerID, ID: p.ID, Type: p.Event, Data: p.Data}, p.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	if s.metrics != nil && !res.Duplicate {
		s.metrics.EventPublished(p.ManufacturerID, res.Messages)
	}
	return res, nil
}

// Test sends one callout.ping to an endpoint, synchronously, and returns
// the attempt. Nothing is queued or recorded.
func (s *Service) Test(ctx context.Context, manufacturerID, endpointID string) (*webhook.EventResult, error) {
	ep, err := s.store.GetEndpoint(ctx, manufacturerID, endpointID)
	if err != nil {
		return nil, err
	}
	ev := &callout.Event{ManufacturerID: manufacturerID, ID: "ping_" + strings.ReplaceAll(uuid.NewString(), "-", ""), Type: callout.EventPing,
		Timestamp: s.now(), Data: json.RawMessage(callout.PingData)}
	return s.caller.Deliver(ctx, &webhook.EventRequest{Endpoint: ep, EventID: ev.ID, EventType: ev.Type,
		Body: callout.EventBody(ep.Format, ev, ep.ID), Attempt: 1}), nil
}

// Deliver makes the next attempt of a message and records it. It reports
// done when the message needs no more runs, or else the wait before the
// next. Waiting for the endpoint's in-flight cap, rate limit or open
// breaker uses up no attempt.
func (s *Service) Deliver(ctx context.Context, k callout.MessageKey, waits int) (done bool, after time.Duration, err error) {
	d, err := s.store.GetMessageDelivery(ctx, k)
	if callout.ErrorCode(err) == callout.ECodeNotFound {
		return true, 0, nil // pruned, or its endpoint removed
	}
	if err != nil {
		return false, 0, err
	}
	ep := d.Endpoint
	if d.Message.Status != callout.MessagePending || !ep.Enabled {
		// Cancelled, failed by an auto-disable, or finished by another run
		// (a redelivery queued while it was pending). A message of an
		// endpoint disabled by hand waits for recover.
		return true, 0, nil
	}
	key := endpointKey{k.ManufacturerID, k.EndpointID}
	sl := s.acquire(ctx, key)
	if sl == nil {
		return false, s.backoff(waits - d.Message.Attempts), nil
	}
	if wait := s.limit(key, ep.RateLimitPerSecond); wait > 0 {
		s.release(key, sl)
		return false, wait, nil
	}
	n := d.Message.Attempts + 1
	res := s.caller.Deliver(ctx, &webhook.EventRequest{Endpoint: ep, EventID: d.Event.ID, EventType: d.Event.Type,
		Body: callout.EventBody(ep.Format, d.Event, ep.ID), Attempt: n})
	// The cap bounds the requests to the endpoint, not the writes after.
	s.release(key, sl)
	if !res.Attempted() {
		return false, max(res.RetryAfter, minBreakerWait), nil
	}
	rec := &store.AttemptRecord{
		Attempt: &callout.Attempt{ManufacturerID: k.ManufacturerID, EndpointID: k.EndpointID, EventID: k.EventID,
			Number: n, StartedAt: res.StartedAt, DurationMS: float64(res.Duration) / float64(time.Millisecond),
			HTTPStatus: res.HTTPStatus, Outcome: res.Outcome, Detail: res.Detail,
			RequestHeaders: res.RequestHeaders, ResponseBody: res.ResponseBody},
		Status:          callout.MessageSucceeded,
		DisableAfter:    s.disableAfter,
		EndpointFailing: ep.FailingSince != nil,
	}
	var wait time.Duration
	if res.Outcome != callout.AttemptSucceeded {
		var again bool
		wait, again = callout.RetryDelay(n, ep.MaxAttempts, res.HTTPStatus, res.RetryAfter, s.jitter())
		rec.Status = callout.MessageFailed
		if again {
			next := s.now().Add(wait)
			rec.Status, rec.NextAttemptAt = callout.MessagePending, &next
		}
	}
	disabled, err := s.store.RecordAttempt(ctx, rec)
	if err != nil {
		return false, 0, err
	}
	if s.metrics != nil {
		s.metrics.EventAttempt(k.ManufacturerID, res.Outcome, s.now().Sub(d.Event.Timestamp))
	}
	if rec.Status == callout.MessagePending && !disabled {
		return false, wait, nil
	}
	return true, 0, nil
}

// backoff is the wait of a message that waited n times before: busyWait,
// doubled each time, at most maxBusyWait, and jittered to between half and
// all of that. (The job's waits count the waits for the next attempt too,
// one per attempt made: the caller takes those off.)
func (s *Service) backoff(n int) time.Duration {
	d := min(busyWait<<min(max(n, 0), 10), maxBusyWait)
	return time.Duration(float64(d) * (0.75 + 0.25*max(-1, min(1, s.jitter()))))
}

// acquire takes one of the endpoint's in-flight slots, waiting up to
// slotWait for one when all are taken and fewer than the cap's number of
// messages wait already. It returns nil when it got none.
func (s *Service) acquire(ctx context.Context, k endpointKey) *slots {
	s.mu.Lock()
	sl := s.slots[k]
	if sl == nil {
		sl = &slots{sem: make(chan struct{}, s.maxInflight)}
		s.slots[k] = sl
	}
	select {
	case sl.sem <- struct{}{}:
		sl.users++
		s.mu.Unlock()
		return sl
	default:
	}
	if sl.waiters >= s.maxInflight {
		s.mu.Unlock()
		return nil
	}
	sl.waiters++
	sl.users++
	s.mu.Unlock()
	t := time.NewTimer(s.slotWait)
	defer t.Stop()
	got := false
	select {
	case sl.sem <- struct{}{}:
		got = true
	case <-t.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.waiters--
	if got {
		return sl
	}
	s.leave(k, sl)
	return nil
}

// release gives back a slot acquire returned.
func (s *Service) release(k endpointKey, sl *slots) {
	<-sl.sem
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leave(k, sl)
}

// leave counts one user of sl out, and forgets sl when it was the last.
// s.mu is held.
func (s *Service) leave(k endpointKey, sl *slots) {
	if sl.users--; sl.users == 0 {
		delete(s.slots, k)
	}
}

// limit takes a token of the endpoint's rate limit, or returns how long
// until one is free; 0 when perSecond is 0 (no limit).
func (s *Service) limit(k endpointKey, perSecond int) time.Duration {
	if perSecond <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limits[k]
	if l == nil || l.rate != perSecond {
		l = &limiter{rate: perSecond, tokens: float64(perSecond), at: s.now()}
		s.limits[k] = l
	}
	return l.take(s.now())
}

// limiter is a token bucket holding at most one second of tokens.
type limiter struct {
	rate   int
	tokens float64
	at     time.Time
}

func (l *limiter) take(now time.Time) time.Duration {
	l.tokens = min(float64(l.rate), l.tokens+now.Sub(l.at).Seconds()*float64(l.rate))
	l.at = now
	if l.tokens >= 1 {
		l.tokens--
		return 0
	}
	return time.Duration((1 - l.tokens) / float64(l.rate) * float64(time.Second))
}
