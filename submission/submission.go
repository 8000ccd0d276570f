// Package submission submits jobs through the manufacturer's submission
// webhook: exactly one callout for concurrent submits of one job (within a
// process by a single flight, across processes by a claim with a lease in the
// job row), idempotent replays, and the job's new state recorded with the
// response in one transaction.
package submission

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/flight"
)

// Store is what submission needs of storage.
type Store interface {
	GetJob(ctx context.Context, manufacturerID, jobID string) (*callout.Job, error)
	GetCustomer(ctx context.Context, manufacturerID, customerID string) (*callout.Customer, error)
	GetWebhook(ctx context.Context, manufacturerID string, kind callout.Kind) (*callout.Webhook, error)
	ClaimSubmission(ctx context.Context, manufacturerID, jobID, claimID string, until time.Time) (*callout.Job, error)
	FinishSubmission(ctx context.Context, r *callout.SubmissionResult) error
	GetSubmissionResponse(ctx context.Context, manufacturerID, jobID, claimID string) (*callout.Response, error)
	GetIdempotency(ctx context.Context, manufacturerID, key string) (*callout.IdempotencyRecord, error)
	PutIdempotency(ctx context.Context, manufacturerID, key, jobID string, r callout.Response) error
}

// Caller makes callouts; *dispatch.Dispatcher is one.
type Caller interface {
	Call(ctx context.Context, c callout.Call) (*callout.Result, error)
}

// Replies writes the answers to submits, which are kept and replayed byte
// for byte; the gateway, which presents them, provides it.
type Replies interface {
	// Submitted is the answer to an accepted submission of job.
	Submitted(job *callout.Job, externalID string, messages []string) (callout.Response, error)
	// Failed is the answer to a submission that failed with err.
	Failed(err error) callout.Response
}

// Defaults of Options.
const (
	// DefaultPoll is how often a caller waiting on another's claim looks for
	// its response.
	DefaultPoll = 25 * time.Millisecond
	// DefaultShareWindow is how long a finished submission answers the
	// submits of the same job that arrived while it was in flight but got to
	// it only afterwards, such as those that queued for a callout slot.
	DefaultShareWindow = 2 * time.Minute
	maxKeyLength       = 255
)

// Options configure a Service.
type Options struct {
	Store   Store
	Caller  Caller
	Replies Replies
	Now     func() time.Time
	NewID   func() string
	Lease   time.Duration
	Poll    time.Duration
	Logger  *slog.Logger
	// Installation is the installation's random value (store.Installation),
	// mixed into every outbound Idempotency-Key.
	Installation []byte
}

// Service submits jobs.
type Service struct {
	store   Store
	caller  Caller
	replies Replies
	now     func() time.Time
	newID   func() string
	lease   time.Duration
	poll    time.Duration
	log     *slog.Logger
	flight  *flight.Group[*Reply]
	// installation keys the outbound Idempotency-Key.
	installation []byte
}

// New returns a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, caller: o.Caller, replies: o.Replies, now: o.Now, newID: o.NewID, lease: o.Lease, poll: o.Poll, log: o.Logger,
		installation: o.Installation}
	if s.now == nil {
		s.now = time.Now
	}
	s.flight = flight.New[*Reply](DefaultShareWindow, s.now)
	if s.lease <= 0 {
		s.lease = callout.DefaultSubmissionLease
	}
	if s.poll <= 0 {
		s.poll = DefaultPoll
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Request is one submit call.
type Request struct {
	ManufacturerID string
	JobID          string
	IdempotencyKey string // the caller's Idempotency-Key header; "" for none
	RequestID      string
	// Arrived is when the request came in; the zero time means now. A
	// submission of the job in flight then answers it, even if it ends
	// before this request gets to it.
	Arrived time.Time
}

// Reply is the HTTP answer to a submit, kept byte for byte for replays.
type Reply struct {
	callout.Response
	RetryAfter time.Duration
	Replayed   bool // the response of an earlier request with the same key

	// keptUnder is the Idempotency-Key FinishSubmission kept the response
	// under ("" for none); noReplay marks a response that must not be kept,
	// because no callout was made.
	keptUnder string
	noReplay  bool
}

// Submit submits a job. Its Reply is the answer for every outcome of the
// callout; an error is returned only for a request that made no callout and is
// not kept for replays (a job not found, a bad or reused key, a storage
// failure).
func (s *Service) Submit(ctx context.Context, r Request) (*Reply, error) {
	if r.Arrived.IsZero() {
		r.Arrived = s.now()
	}
	if r.IdempotencyKey != "" {
		reply, err := s.replay(ctx, r)
		if reply != nil || err != nil {
			return reply, err
		}
	}
	// Concurrent submits of one job in this process share one attempt; the
	// claim in the store extends that to other processes. The attempt must
	// not be cut short by one caller going away: others wait on it, and the
	// manufacturer may accept the order regardless.
	v, err, _ := s.flight.Do(ctx, r.ManufacturerID+"\x00"+r.JobID, r.Arrived, func() (*Reply, error) {
		return s.submit(context.WithoutCancel(ctx), r)
	})
	if err != nil {
		return nil, err
	}
	reply := *v
	if r.IdempotencyKey != "" && !reply.noReplay && reply.keptUnder != r.IdempotencyKey {
		// The attempt's own key was kept with its result; a caller that joined
		// it, here or on another process's claim, keeps the same response
		// under its own key.
		if err := s.store.PutIdempotency(ctx, r.ManufacturerID, r.IdempotencyKey, r.JobID, reply.Response); err != nil {
			s.log.ErrorContext(ctx, "keeping the response for an idempotency key", "job", r.JobID, "error", err)
		}
	}
	return &reply, nil
}

// replay returns the earlier response for the request's key, or nil when the
// key is new.
func (s *Service) replay(ctx context.Context, r Request) (*Reply, error) {
	if err := CheckKey(r.IdempotencyKey); err != nil {
		return nil, err
	}
	rec, err := s.store.GetIdempotency(ctx, r.ManufacturerID, r.IdempotencyKey)
	switch {
	case callout.ErrorCode(err) == callout.ECodeNotFound:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("submitting job %s: %w", r.JobID, err)
	case s.now().Sub(rec.CreatedAt) >= callout.IdempotencyWindow:
		return nil, nil
	case rec.JobID != r.JobID:
		return nil, callout.Errorf(callout.ECodeIdempotencyReused, "this Idempotency-Key was used to submit another job; use a new key for each job")
	}
	return &Reply{Response: rec.Response, Replayed: true}, nil
}

// CheckKey validates an Idempotency-Key: 1 to 255 printable ASCII characters.
func CheckKey(key string) error {
	ok := len(key) > 0 && len(key) <= maxKeyLength
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] > 0x20 && key[i] < 0x7f
	}
	if !ok {
		return callout.Invalid(callout.FieldError{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters without spaces"})
	}
	return nil
}

// errLeaseExpired says that the claim waited on expired without a response:
// its process died. The waiter claims the job itself.
var errLeaseExpired = errors.New("claim expired without a response")

func (s *Service) submit(ctx context.Context, r Request) (*Reply, error) {
	for {
		claimID := s.newID()
		job, err := s.store.ClaimSubmission(ctx, r.ManufacturerID, r.JobID, claimID, s.now().Add(s.lease))
		var held *callout.HeldError
		switch {
		case err == nil:
			return s.submitClaimed(ctx, r, job, claimID)
		case callout.ErrorCode(err) == callout.ECodeAlreadySubmitted:
			return s.alreadySubmitted(ctx, r)
		case errors.As(err, &held):
			reply, err := s.await(ctx, r, held)
			if errors.Is(err, errLeaseExpired) {
				s.log.WarnContext(ctx, "submission claim expired without a response; claiming again", "job", r.JobID, "claim", held.ClaimID)
				continue
			}
			return reply, err
		default:
			return nil, fmt.Errorf("submitting job %s: %w", r.JobID, err)
		}
	}
}

// await waits for the response of the claim another process holds.
func (s *Service) await(ctx context.Context, r Request, held *callout.HeldError) (*Reply, error) {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		resp, err := s.store.GetSubmissionResponse(ctx, r.ManufacturerID, r.JobID, held.ClaimID)
		switch {
		case err == nil:
			return replyOf(*resp), nil
		case callout.ErrorCode(err) != callout.ECodeNotFound:
			return nil, fmt.Errorf("waiting for the submission of job %s: %w", r.JobID, err)
		case s.now().After(held.Until):
			return nil, errLeaseExpired
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the submission of job %s: %w", r.JobID, ctx.Err())
		case <-t.C:
		}
	}
}

func (s *Service) alreadySubmitted(ctx context.Context, r Request) (*Reply, error) {
	job, err := s.store.GetJob(ctx, r.ManufacturerID, r.JobID)
	if err != nil {
		return nil, fmt.Errorf("submitting job %s: %w", r.JobID, err)
	}
	return s.failed(&callout.Error{
		Code:    callout.ECodeAlreadySubmitted,
		Message: fmt.Sprintf("job %s is already submitted", r.JobID),
		Extra:   map[string]any{"job": job},
	}), nil
}

// submitClaimed makes the callout for a job this caller has claimed, and
// records its result.
func (s *Service) submitClaimed(ctx context.Context, r Request, job *callout.Job, claimID string) (*Reply, error) {
	res := &callout.SubmissionResult{
		ManufacturerID: r.ManufacturerID,
		JobID:          r.JobID,
		ClaimID:        claimID,
		IdempotencyKey: r.IdempotencyKey,
	}
	reply, err := s.call(ctx, r, job, res)
	if err != nil {
		// No callout was made and nothing is known to the manufacturer:
		// answer the waiters with the failure but keep no replay of it.
		reply = s.failed(err)
		reply.noReplay = true
		res.IdempotencyKey = ""
		if callout.ErrorCode(err) == callout.ECodeInternal {
			s.log.ErrorContext(ctx, "submission failed before the callout", "job", r.JobID, "error", err)
		}
	}
	res.Response = reply.Response
	if err := s.store.FinishSubmission(ctx, res); err != nil {
		// The caller is not told of an acceptance that is not recorded. The
		// claim lapses after the lease; a retry carries the same outbound
		// Idempotency-Key, so the manufacturer can recognise the order.
		return nil, fmt.Errorf("recording the submission of job %s: %w", r.JobID, err)
	}
	reply.keptUnder = res.IdempotencyKey
	return reply, nil
}

// call makes the callout, or accepts the job without one when no enabled
// submission webhook is configured, and fills in res.
func (s *Service) call(ctx context.Context, r Request, job *callout.Job, res *callout.SubmissionResult) (*Reply, error) {
	wh, err := s.store.GetWebhook(ctx, r.ManufacturerID, callout.KindSubmission)
	if err != nil && callout.ErrorCode(err) != callout.ECodeNotFound {
		return nil, fmt.Errorf("reading the submission webhook: %w", err)
	}
	if wh == nil || !wh.Enabled {
		return s.accept(job, res, "", nil)
	}
	customer, err := s.store.GetCustomer(ctx, r.ManufacturerID, job.CustomerID)
	if err != nil {
		return nil, fmt.Errorf("reading customer %s: %w", job.CustomerID, err)
	}
	result, err := s.caller.Call(ctx, callout.Call{
		Webhook:        wh,
		Job:            job,
		Customer:       customer.Document,
		RequestID:      r.RequestID,
		IdempotencyKey: OutboundKey(s.installation, job),
	})
	if err != nil {
		return nil, err
	}
	if result.Delivery.Kept() {
		res.Delivery = result.Delivery
	}
	if result.Outcome != callout.OutcomeAccepted {
		return s.failed(result.Failure(wh, "submission")), nil
	}
	return s.accept(job, res, result.ExternalID, result.Messages)
}

// accept marks the job submitted, in memory and in res, and writes the reply.
func (s *Service) accept(job *callout.Job, res *callout.SubmissionResult, externalID string, texts []string) (*Reply, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	messages := make([]callout.Message, len(texts))
	for i, text := range texts {
		messages[i] = callout.Message{Text: text, Source: callout.KindSubmission, At: now}
	}
	res.Accepted, res.ExternalID, res.Messages, res.SubmittedAt = true, externalID, messages, now
	job.Status, job.SubmittedAt, job.UpdatedAt = callout.JobSubmitted, &now, now
	if externalID != "" {
		job.ExternalID = externalID
	}
	job.Messages = append(job.Messages, messages...)
	resp, err := s.replies.Submitted(job, externalID, texts)
	if err != nil {
		return nil, fmt.Errorf("writing the reply: %w", err)
	}
	return &Reply{Response: resp}, nil
}

// OutboundKey is the Idempotency-Key sent to the manufacturer: the same for
// every attempt and every retry of one job's submission, and new when the
// job's documents change. It is an HMAC keyed by the installation's random
// value, so that another installation (or this one after a data reset)
// sending the same manufacturer, job id and revision sends another key, and
// a manufacturer never takes a different job for a repeat.
func OutboundKey(installation []byte, job *callout.Job) string {
	mac := hmac.New(sha256.New, installation)
	mac.Write([]byte(job.ManufacturerID + "\x00" + job.ID + "\x00" + strconv.FormatInt(job.Revision, 10)))
	return "callout-" + hex.EncodeToString(mac.Sum(nil)[:16])
}

// failed is the reply to a submission that failed with err.
func (s *Service) failed(err error) *Reply {
	reply := &Reply{Response: s.replies.Failed(err)}
	var e *callout.Error
	if errors.As(err, &e) {
		reply.RetryAfter = e.RetryAfter
	}
	return reply
}

// replyOf rebuilds the reply of a stored response.
func replyOf(r callout.Response) *Reply { return &Reply{Response: r} }
