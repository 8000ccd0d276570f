package callout

import (
	"fmt"
	"time"
)

// Response is an HTTP response to replay byte for byte: the answer to a
// submission, shared by every caller of one claim and by every request with the
// same Idempotency-Key.
type Response struct {
	Status int
	Body   []byte
}

// SubmissionResult is what a finished submission claim records, in one
// transaction: the job's new state, the response, the delivery and the
// idempotency key.
type SubmissionResult struct {
	ManufacturerID string
	JobID          string
	ClaimID        string
	Accepted       bool
	ExternalID     string
	Messages       []Message
	SubmittedAt    time.Time
	// Response is what every caller waiting on this claim is answered.
	Response Response
	// IdempotencyKey is the caller's key, "" for none; the Response is kept
	// under it for replays.
	IdempotencyKey string
	// Delivery is the record of the callout; nil when no callout was made.
	Delivery *Delivery
}

// HeldError says that another caller holds a job's submission claim until
// Until. It is the cause of a submission_in_progress error.
type HeldError struct {
	ClaimID string
	Until   time.Time
}

// Error describes the claim.
func (e *HeldError) Error() string {
	return fmt.Sprintf("submission claimed by %s until %s", e.ClaimID, e.Until.Format(time.RFC3339))
}

// IdempotencyRecord is the response kept for an Idempotency-Key.
type IdempotencyRecord struct {
	JobID     string
	Response  Response
	CreatedAt time.Time
}

// IdempotencyWindow is how long a response is replayed for its key.
const IdempotencyWindow = 24 * time.Hour
