package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/callout/callout"
)

// ErrClaimLost is the cause of FinishSubmission's error when the caller's
// claim is no longer the job's: its lease expired and another caller claimed
// the job, or it was finished already.
var ErrClaimLost = errors.New("submission claim lost")

// responseRetention is how long the response of an older claim of a job is
// kept once a newer claim finishes: callers wait on a claim only while its
// callout runs.
const responseRetention = time.Hour

// claimAttempts bounds ClaimSubmission's retries when the claim it lost turns
// out to be free when it looks again.
const claimAttempts = 5

// ClaimSubmission takes the job's submission lease for claimID until until, and
// returns the job with its documents. It fails with not_found when there is
// no such job, job_already_submitted when it is submitted, and a
// *callout.HeldError when another claim holds an unexpired lease. Of many
// callers claiming at once, on one process or several, exactly one wins. It
// runs one short statement: no transaction is held during the callout. While
// the lease runs, PutJob cannot replace the job's documents.
func (s *Store) ClaimSubmission(ctx context.Context, manufacturerID, jobID, claimID string, until time.Time) (*callout.Job, error) {
	for range claimAttempts {
		now := micros(s.now())
		var r jobRow
		err := s.writeDB(ctx, func(ctx context.Context, q querier) error {
			return s.queryRow(ctx, q, `UPDATE jobs SET claim_id = ?, claim_until = ?
				WHERE manufacturer_id = ? AND id = ? AND status = ?
					AND (claim_until IS NULL OR claim_until <= ? OR claim_id = ?)
				RETURNING `+jobColumns,
				claimID, micros(until), manufacturerID, jobID, string(callout.JobProcessing), now, claimID).Scan(r.dest()...)
		})
		if err == nil {
			if err := s.loadPricing(ctx, s.db, manufacturerID, jobID, &r); err != nil {
				return nil, err
			}
			return r.job(manufacturerID, jobID)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("claiming job %s: %w", jobID, err)
		}
		// Tell why the claim failed.
		var (
			status string
			holder sql.NullString
			held   sql.NullInt64
		)
		err = s.queryRow(ctx, s.db, `SELECT status, claim_id, claim_until FROM jobs WHERE manufacturer_id = ? AND id = ?`,
			manufacturerID, jobID).Scan(&status, &holder, &held)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, notFoundJob(jobID)
		case err != nil:
			return nil, fmt.Errorf("claiming job %s: %w", jobID, err)
		case status == string(callout.JobSubmitted):
			return nil, callout.Errorf(callout.ECodeAlreadySubmitted, "job %s is already submitted", jobID)
		case held.Valid && held.Int64 > micros(s.now()):
			return nil, &callout.HeldError{ClaimID: holder.String, Until: fromMicros(held.Int64)}
		}
		// The lease was released between the two statements: try again.
	}
	return nil, fmt.Errorf("claiming job %s: the claim changed hands %d times in a row", jobID, claimAttempts)
}

// FinishSubmission records the end of a claim in one transaction: the response
// every caller of the claim is answered with, the released lease, the job's
// new state when the submission was accepted, the delivery, and the
// idempotency key. When r.ClaimID no longer holds the job, nothing is written
// and the error wraps ErrClaimLost.
func (s *Store) FinishSubmission(ctx context.Context, r *callout.SubmissionResult) error {
	now := s.now()
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var (
			messages string
			holder   sql.NullString
			held     sql.NullInt64
		)
		err := s.queryRow(ctx, tx, `SELECT messages, claim_id, claim_until FROM jobs WHERE manufacturer_id = ? AND id = ?`+s.forUpdate(),
			r.ManufacturerID, r.JobID).Scan(&messages, &holder, &held)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return notFoundJob(r.JobID)
		case err != nil:
			return fmt.Errorf("reading job: %w", err)
		case !holder.Valid:
			// PutJob refuses to replace the documents under a live
			// claim, and drops an expired one when it does: so a claim
			// still held saw the job's current documents, the ones the
			// manufacturer got, and one dropped must not freeze the job
			// with documents the manufacturer never saw.
			return claimLost("the documents of job %s were replaced after its submission's lease expired", r.JobID)
		case holder.String != r.ClaimID || !held.Valid:
			return claimLost("the submission of job %s was taken over by another request", r.JobID)
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO submission_responses (manufacturer_id, job_id, claim_id, status, body, created_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (manufacturer_id, job_id, claim_id) DO UPDATE SET status = excluded.status, body = excluded.body,
				created_at = excluded.created_at`,
			r.ManufacturerID, r.JobID, r.ClaimID, r.Response.Status, r.Response.Body, micros(now)); err != nil {
			return fmt.Errorf("saving the response: %w", err)
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM submission_responses
			WHERE manufacturer_id = ? AND job_id = ? AND claim_id <> ? AND created_at < ?`,
			r.ManufacturerID, r.JobID, r.ClaimID, micros(now.Add(-responseRetention))); err != nil {
			return fmt.Errorf("pruning old responses: %w", err)
		}
		if r.Accepted {
			if err := s.acceptSubmission(ctx, tx, r, messages, now); err != nil {
				return err
			}
		} else if _, err := s.exec(ctx, tx, `UPDATE jobs SET claim_until = NULL WHERE manufacturer_id = ? AND id = ?`,
			r.ManufacturerID, r.JobID); err != nil {
			return fmt.Errorf("releasing the claim: %w", err)
		}
		if r.Delivery != nil {
			if err := s.insertDelivery(ctx, tx, r.Delivery); err != nil {
				return err
			}
		}
		if r.IdempotencyKey != "" {
			return s.putIdempotency(ctx, tx, r.ManufacturerID, r.IdempotencyKey, r.JobID, r.Response, now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finishing submission of job %s: %w", r.JobID, err)
	}
	return nil
}

// claimLost is FinishSubmission's error when the claim is no longer the
// job's; format has one %s, the job id.
func claimLost(format, jobID string) error {
	return &callout.Error{Code: callout.ECodeSubmitInProgress, Message: fmt.Sprintf(format, jobID), Err: ErrClaimLost}
}

// acceptSubmission marks the job submitted, appending the result's messages to
// those stored, releases the claim, and publishes job.submitted.
func (s *Store) acceptSubmission(ctx context.Context, tx *sql.Tx, r *callout.SubmissionResult, stored string, now time.Time) error {
	var all []callout.Message
	if err := json.Unmarshal([]byte(stored), &all); err != nil {
		return fmt.Errorf("decoding the messages: %w", err)
	}
	messages, err := encodeMessages(append(all, r.Messages...))
	if err != nil {
		return fmt.Errorf("encoding the messages: %w", err)
	}
	submittedAt := r.SubmittedAt
	if submittedAt.IsZero() {
		submittedAt = now
	}
	// An empty external id keeps the stored one.
	externalID := sql.NullString{String: cleanText(r.ExternalID), Valid: r.ExternalID != ""}
	job := submittedJob{messages: messages, submittedAt: fromMicros(micros(submittedAt))}
	if err := s.queryRow(ctx, tx, `UPDATE jobs SET status = ?, submitted_at = ?, external_id = COALESCE(?, external_id),
			messages = ?, claim_until = NULL, updated_at = ?
		WHERE manufacturer_id = ? AND id = ? RETURNING customer_id, external_id`,
		string(callout.JobSubmitted), micros(submittedAt), externalID, messages, micros(now),
		r.ManufacturerID, r.JobID).Scan(&job.customerID, &job.externalID); err != nil {
		return fmt.Errorf("marking the job submitted: %w", err)
	}
	return s.publishSubmitted(ctx, tx, r, &job)
}

// GetSubmissionResponse returns the response FinishSubmission recorded for the
// claim, or a not_found error until it has committed.
func (s *Store) GetSubmissionResponse(ctx context.Context, manufacturerID, jobID, claimID string) (*callout.Response, error) {
	resp := new(callout.Response)
	err := s.queryRow(ctx, s.db, `SELECT status, body FROM submission_responses
		WHERE manufacturer_id = ? AND job_id = ? AND claim_id = ?`, manufacturerID, jobID, claimID).Scan(&resp.Status, &resp.Body)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, callout.NotFound(fmt.Sprintf("response of claim %s of job %s", claimID, jobID))
	case err != nil:
		return nil, fmt.Errorf("reading the response of job %s: %w", jobID, err)
	}
	return resp, nil
}

// GetIdempotency returns the record of the manufacturer's Idempotency-Key,
// however old (the caller checks the window), or a not_found error.
func (s *Store) GetIdempotency(ctx context.Context, manufacturerID, key string) (*callout.IdempotencyRecord, error) {
	rec := new(callout.IdempotencyRecord)
	var created int64
	err := s.queryRow(ctx, s.db, `SELECT job_id, status, body, created_at FROM idempotency_keys
		WHERE manufacturer_id = ? AND key = ?`, manufacturerID, key).Scan(&rec.JobID, &rec.Response.Status, &rec.Response.Body, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, callout.NotFound("idempotency key")
	case err != nil:
		return nil, fmt.Errorf("reading an idempotency key: %w", err)
	}
	rec.CreatedAt = fromMicros(created)
	return rec, nil
}

// PutIdempotency keeps the response r for the manufacturer's key and job. A
// record of the key younger than callout.IdempotencyWindow is kept untouched;
// an older one is replaced.
func (s *Store) PutIdempotency(ctx context.Context, manufacturerID, key, jobID string, r callout.Response) error {
	err := s.writeDB(ctx, func(ctx context.Context, q querier) error {
		return s.putIdempotency(ctx, q, manufacturerID, key, jobID, r, s.now())
	})
	if isForeignKeyViolation(err) {
		return notFoundManufacturer(manufacturerID)
	}
	return err
}

func (s *Store) putIdempotency(ctx context.Context, q querier, manufacturerID, key, jobID string, r callout.Response, now time.Time) error {
	// Keys are chosen by callers and may be long or odd: they never appear in
	// an error.
	if _, err := s.exec(ctx, q, `INSERT INTO idempotency_keys (manufacturer_id, key, job_id, status, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (manufacturer_id, key) DO UPDATE SET job_id = excluded.job_id, status = excluded.status,
			body = excluded.body, created_at = excluded.created_at
		WHERE idempotency_keys.created_at <= ?`,
		manufacturerID, key, jobID, r.Status, r.Body, micros(now), micros(now.Add(-callout.IdempotencyWindow))); err != nil {
		return fmt.Errorf("saving an idempotency key of job %s: %w", jobID, err)
	}
	return nil
}

// PruneIdempotency deletes the idempotency records created before before, and
// returns how many it deleted.
func (s *Store) PruneIdempotency(ctx context.Context, before time.Time) (int64, error) {
	var res sql.Result
	err := s.writeDB(ctx, func(ctx context.Context, q querier) (err error) {
		res, err = s.exec(ctx, q, `DELETE FROM idempotency_keys WHERE created_at < ?`, micros(before))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning idempotency keys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("pruning idempotency keys: %w", err)
	}
	return n, nil
}
