package submission_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/submission"
)

const mfr = "103"

// memStore is an in-memory submission.Store with the claim rules of the
// real stores: one live claim per job, a lease, responses kept per claim.
type memStore struct {
	mu        sync.Mutex
	now       func() time.Time
	jobs      map[string]*memJob
	webhook   *callout.Webhook
	keys      map[string]callout.IdempotencyRecord
	responses map[string]callout.Response // by claim id
	// finishErr, when set, is FinishSubmission's answer: a claim lost.
	finishErr error
}

type memJob struct {
	job     callout.Job
	claimID string
	until   time.Time
}

var _ submission.Store = (*memStore)(nil)

func newMemStore(now func() time.Time, jobIDs ...string) *memStore {
	s := &memStore{
		now:       now,
		jobs:      map[string]*memJob{},
		keys:      map[string]callout.IdempotencyRecord{},
		responses: map[string]callout.Response{},
		webhook:   &callout.Webhook{ManufacturerID: mfr, Kind: callout.KindSubmission, Enabled: true, GenericErrorMessage: "Something went wrong"},
	}
	for _, id := range jobIDs {
		s.jobs[id] = &memJob{job: callout.Job{ID: id, ManufacturerID: mfr, CustomerID: "c1", Status: callout.JobProcessing, Revision: 1}}
	}
	return s
}

func (s *memStore) GetJob(_ context.Context, _, jobID string) (*callout.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[jobID]
	if !ok {
		return nil, callout.NotFound("job " + jobID)
	}
	job := j.job
	return &job, nil
}

func (s *memStore) GetCustomer(_ context.Context, _, customerID string) (*callout.Customer, error) {
	return &callout.Customer{ID: customerID, ManufacturerID: mfr, Document: []byte(`{}`)}, nil
}

func (s *memStore) GetWebhook(context.Context, string, callout.Kind) (*callout.Webhook, error) {
	return s.webhook, nil
}

func (s *memStore) ClaimSubmission(_ context.Context, _, jobID, claimID string, until time.Time) (*callout.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[jobID]
	switch {
	case !ok:
		return nil, callout.NotFound("job " + jobID)
	case j.job.Status == callout.JobSubmitted:
		return nil, callout.Errorf(callout.ECodeAlreadySubmitted, "job %s is already submitted", jobID)
	case j.claimID != "" && j.claimID != claimID && j.until.After(s.now()):
		return nil, &callout.HeldError{ClaimID: j.claimID, Until: j.until}
	}
	j.claimID, j.until = claimID, until
	job := j.job
	return &job, nil
}

// hold makes another process's claim on jobID, live for lease.
func (s *memStore) hold(jobID, claimID string, lease time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[jobID].claimID, s.jobs[jobID].until = claimID, s.now().Add(lease)
}

func (s *memStore) FinishSubmission(_ context.Context, r *callout.SubmissionResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finishErr != nil {
		return s.finishErr
	}
	j := s.jobs[r.JobID]
	if j.claimID != r.ClaimID {
		return callout.Errorf(callout.ECodeSubmitInProgress, "claim lost")
	}
	s.responses[r.ClaimID] = r.Response
	j.until = time.Time{}
	if r.Accepted {
		j.job.Status, j.job.ExternalID = callout.JobSubmitted, r.ExternalID
	}
	if r.IdempotencyKey != "" {
		s.keys[r.IdempotencyKey] = callout.IdempotencyRecord{JobID: r.JobID, Response: r.Response, CreatedAt: s.now()}
	}
	return nil
}

// finishHeld records the response of another process's claim.
func (s *memStore) finishHeld(jobID, claimID string, resp callout.Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responses[claimID] = resp
	s.jobs[jobID].until = time.Time{}
	s.jobs[jobID].job.Status = callout.JobSubmitted
}

func (s *memStore) GetSubmissionResponse(_ context.Context, _, jobID, claimID string) (*callout.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.responses[claimID]
	if !ok {
		return nil, callout.NotFound("response")
	}
	return &r, nil
}

func (s *memStore) GetIdempotency(_ context.Context, _, key string) (*callout.IdempotencyRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.keys[key]
	if !ok {
		return nil, callout.NotFound("key")
	}
	return &rec, nil
}

func (s *memStore) PutIdempotency(_ context.Context, _, key, jobID string, r callout.Response) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key] = callout.IdempotencyRecord{JobID: jobID, Response: r, CreatedAt: s.now()}
	return nil
}

// manufacturer is a submission.Caller that accepts every job with an
// external id, counting its callouts; with hold set, each callout waits for
// it to be closed.
type manufacturer struct {
	calls  atomic.Int32
	called chan struct{} // receives once per callout, when set
	hold   chan struct{}
}

func (m *manufacturer) Call(_ context.Context, c callout.Call) (*callout.Result, error) {
	n := m.calls.Add(1)
	if m.called != nil {
		m.called <- struct{}{}
	}
	if m.hold != nil {
		<-m.hold
	}
	return &callout.Result{
		Outcome:    callout.OutcomeAccepted,
		HTTPStatus: 200,
		Attempts:   1,
		ExternalID: fmt.Sprintf("EXT-%s-%d", c.Job.ID, n),
		Delivery:   &callout.Delivery{ID: fmt.Sprintf("d%d", n), Outcome: callout.OutcomeAccepted},
	}, nil
}

// replies renders answers as short text, enough to tell them apart.
type replies struct{}

func (replies) Submitted(job *callout.Job, externalID string, _ []string) (callout.Response, error) {
	return callout.Response{Status: 200, Body: []byte("submitted " + job.ID + " as " + externalID)}, nil
}

func (replies) Failed(err error) callout.Response {
	return callout.Response{Status: 409, Body: []byte(callout.ErrorCode(err))}
}
