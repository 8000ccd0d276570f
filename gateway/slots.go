package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/callout/callout"
)

// slots bounds the callout requests (price, submit, webhook test) served at
// once: in all, so that a burst holds documents, payloads and answers for only
// so many, and per manufacturer, so that one manufacturer's slow webhook and
// its callers cannot take the capacity every other manufacturer needs. A
// request takes its slot only once its body is read: a slow client holds its
// connection, never a slot.
type slots struct {
	all       chan struct{}
	perTenant int
	// onWait, when set, is told of each request that starts (1) or stops
	// (-1) waiting for its slots.
	onWait func(delta int)

	mu      sync.Mutex
	tenants map[string]*tenantSlots
}

// tenantSlots are one manufacturer's slots, dropped once nobody uses them.
type tenantSlots struct {
	held  chan struct{}
	users int
}

func newSlots(all, perTenant int) *slots {
	return &slots{all: make(chan struct{}, all), perTenant: min(perTenant, all), tenants: make(map[string]*tenantSlots)}
}

// acquire waits for one of the manufacturer's slots, then one of the
// process's, until ctx ends. The caller calls release when done.
func (s *slots) acquire(ctx context.Context, manufacturerID string) (release func(), err error) {
	t := s.join(manufacturerID)
	if s.onWait != nil {
		s.onWait(1)
		defer s.onWait(-1)
	}
	select {
	case t.held <- struct{}{}:
	case <-ctx.Done():
		s.leave(manufacturerID, t)
		return nil, s.gaveUp(ctx, "of this manufacturer's %d", s.perTenant)
	}
	select {
	case s.all <- struct{}{}:
	case <-ctx.Done():
		<-t.held
		s.leave(manufacturerID, t)
		return nil, s.gaveUp(ctx, "of the %d", cap(s.all))
	}
	return func() {
		<-s.all
		<-t.held
		s.leave(manufacturerID, t)
	}, nil
}

func (s *slots) gaveUp(ctx context.Context, which string, n int) error {
	return &callout.Error{
		Code:    callout.ECodeUnavailable,
		Message: fmt.Sprintf("the request ended while waiting for one "+which+" callouts in progress to finish", n),
		Err:     ctx.Err(),
	}
}

func (s *slots) join(manufacturerID string) *tenantSlots {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[manufacturerID]
	if t == nil {
		t = &tenantSlots{held: make(chan struct{}, s.perTenant)}
		s.tenants[manufacturerID] = t
	}
	t.users++
	return t
}

func (s *slots) leave(manufacturerID string, t *tenantSlots) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.users--; t.users == 0 {
		delete(s.tenants, manufacturerID)
	}
}
