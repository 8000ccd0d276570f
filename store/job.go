package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/callout/callout"
)

// The columns of a job: the state Callout owns, then the documents. Its
// pricing lives in job_pricing, so that saving a price does not rewrite the
// documents.
const (
	jobStateColumns = `customer_id, status, revision, messages, external_id, submitted_at, updated_at`
	jobColumns      = jobStateColumns + `, document, export`
	// jobWithPricing joins a job (alias j) to its pricing (alias p).
	jobWithPricing = `jobs j LEFT JOIN job_pricing p ON p.manufacturer_id = j.manufacturer_id AND p.job_id = j.id`
)

// jobQuery reads a job with its pricing, into jobRow.queryDest.
var jobQuery = `SELECT ` + qualify("j", jobColumns) + `, p.pricing, p.revision FROM ` + jobWithPricing

// jobRow receives the columns of a job.
type jobRow struct {
	customerID, status string
	revision           int64
	messages           string
	pricing            sql.NullString
	pricingRevision    sql.NullInt64
	externalID         string
	submittedAt        sql.NullInt64
	updatedAt          int64
	document, export   []byte
}

func (r *jobRow) stateDest() []any {
	return []any{&r.customerID, &r.status, &r.revision, &r.messages, &r.externalID, &r.submittedAt, &r.updatedAt}
}

func (r *jobRow) dest() []any { return append(r.stateDest(), &r.document, &r.export) }

// queryDest receives the columns of jobQuery.
func (r *jobRow) queryDest() []any { return append(r.dest(), &r.pricing, &r.pricingRevision) }

// loadPricing reads the job's pricing into r, for a statement that returned
// the job's own columns only.
func (s *Store) loadPricing(ctx context.Context, q querier, manufacturerID, jobID string, r *jobRow) error {
	err := s.queryRow(ctx, q, `SELECT pricing, revision FROM job_pricing WHERE manufacturer_id = ? AND job_id = ?`,
		manufacturerID, jobID).Scan(&r.pricing, &r.pricingRevision)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the pricing of job %s: %w", jobID, err)
	}
	return nil
}

// state sets j's state from the row; documents sets its documents too.
func (r *jobRow) state(j *callout.Job) error {
	j.CustomerID = r.customerID
	j.Status = callout.JobStatus(r.status)
	j.Revision = r.revision
	j.ExternalID = r.externalID
	j.SubmittedAt = nullMicros(r.submittedAt)
	j.UpdatedAt = fromMicros(r.updatedAt)
	j.Messages = nil
	if err := json.Unmarshal([]byte(r.messages), &j.Messages); err != nil {
		return fmt.Errorf("decoding the messages of job %s: %w", j.ID, err)
	}
	j.Pricing = nil
	if r.pricing.Valid {
		p := new(callout.Pricing)
		if err := json.Unmarshal([]byte(r.pricing.String), p); err != nil {
			return fmt.Errorf("decoding the pricing of job %s: %w", j.ID, err)
		}
		p.Revision = r.pricingRevision.Int64
		j.Pricing = p
	}
	return nil
}

func (r *jobRow) job(manufacturerID, id string) (*callout.Job, error) {
	j := &callout.Job{ID: id, ManufacturerID: manufacturerID, Document: r.document, Export: r.export}
	if err := r.state(j); err != nil {
		return nil, err
	}
	return j, nil
}

// encodeMessages encodes job messages with their times in UTC microseconds,
// as every time is stored.
func encodeMessages(ms []callout.Message) (string, error) {
	out := make([]callout.Message, len(ms))
	for i, m := range ms {
		m.At = fromMicros(micros(m.At))
		out[i] = m
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// encodePricing encodes p with its time in UTC microseconds. Cost, a
// json.Number, is written as the literal it holds, so it comes back exactly.
func encodePricing(p *callout.Pricing) (sql.NullString, sql.NullInt64, error) {
	if p == nil {
		return sql.NullString{}, sql.NullInt64{}, nil
	}
	c := *p
	c.PricedAt = fromMicros(micros(c.PricedAt))
	b, err := json.Marshal(&c)
	if err != nil {
		return sql.NullString{}, sql.NullInt64{}, fmt.Errorf("encoding pricing: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, sql.NullInt64{Int64: p.Revision, Valid: true}, nil
}

// PutJob stores j's documents byte for byte, in one transaction with the
// inline customer when it is not nil. j.CustomerID must name a stored customer
// of the manufacturer (or the inline one). A new job is processing at
// revision 1; replacing a job's documents increments its revision and keeps
// its state; a submitted job's documents cannot be replaced (job_submitted),
// nor those of a job under a live submission claim (submission_in_progress).
// PutJob sets j's state from the stored row so the caller can answer with the
// job resource.
func (s *Store) PutJob(ctx context.Context, j *callout.Job, inline *callout.Customer) error {
	if len(j.Document) == 0 {
		return fmt.Errorf("putting job %s: the job document is empty", j.ID)
	}
	if inline != nil && inline.ManufacturerID != j.ManufacturerID {
		return fmt.Errorf("putting job %s: the inline customer belongs to manufacturer %q, the job to %q", j.ID, inline.ManufacturerID, j.ManufacturerID)
	}
	now := s.now()
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.manufacturerExists(ctx, tx, j.ManufacturerID); err != nil {
			return err
		}
		if inline != nil {
			if _, err := s.putCustomer(ctx, tx, inline, now); err != nil {
				return fmt.Errorf("putting inline customer %s: %w", inline.ID, err)
			}
		}
		var one int
		err := s.queryRow(ctx, tx, `SELECT 1 FROM customers WHERE manufacturer_id = ? AND id = ?`, j.ManufacturerID, j.CustomerID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return callout.Invalid(callout.FieldError{Field: "job.customerId", Message: "names no stored customer of this manufacturer: store the customer first or give it inline"})
		}
		if err != nil {
			return fmt.Errorf("reading customer %s: %w", j.CustomerID, err)
		}
		// One statement inserts or replaces, so that two processes storing
		// the same new job at once cannot both insert it.
		//
		// It replaces the documents only while no submission claim is live:
		// the manufacturer gets the documents the claim returned, and the
		// job is frozen with them. The check is in the statement that writes,
		// so it cannot race a claim. On PostgreSQL both take the job's row
		// lock: a claim committed first makes the WHERE false here (ON
		// CONFLICT re-reads the newest row version once it holds the lock);
		// a replacement committed first is what the claim's UPDATE re-reads,
		// so the claim returns the new documents. SQLite runs one write
		// transaction at a time. A replacement ends an expired claim (its
		// process died or overran the lease): that claim's documents are
		// gone, so FinishSubmission must not freeze the job with the new ones
		// (see the claim check there).
		var r jobRow
		err = s.queryRow(ctx, tx, `INSERT INTO jobs (manufacturer_id, id, customer_id, status, revision, document, export,
				messages, external_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, 1, ?, ?, '[]', '', ?, ?)
			ON CONFLICT (manufacturer_id, id) DO UPDATE SET customer_id = excluded.customer_id,
				document = excluded.document, export = excluded.export,
				revision = jobs.revision + 1, updated_at = excluded.updated_at,
				claim_id = NULL, claim_until = NULL
			WHERE jobs.status <> ? AND (jobs.claim_until IS NULL OR jobs.claim_until <= ?)
			RETURNING `+jobStateColumns,
			j.ManufacturerID, j.ID, j.CustomerID, string(callout.JobProcessing), []byte(j.Document), []byte(j.Export),
			micros(now), micros(now), string(callout.JobSubmitted), micros(now)).Scan(r.stateDest()...)
		if errors.Is(err, sql.ErrNoRows) {
			return s.refuseReplace(ctx, tx, j.ManufacturerID, j.ID)
		}
		if err != nil {
			return fmt.Errorf("writing job: %w", err)
		}
		if err := s.loadPricing(ctx, tx, j.ManufacturerID, j.ID, &r); err != nil {
			return err
		}
		return r.state(j)
	})
	if err != nil {
		return fmt.Errorf("putting job %s: %w", j.ID, err)
	}
	if inline != nil {
		inline.UpdatedAt = fromMicros(micros(now))
	}
	return nil
}

// refuseReplace tells why PutJob's statement replaced nothing: the job is
// submitted, or a live claim is submitting it. That statement left the row
// locked (PostgreSQL locks the conflicting row even when the WHERE of ON
// CONFLICT is false), so this reads the state that refused it.
func (s *Store) refuseReplace(ctx context.Context, tx *sql.Tx, manufacturerID, jobID string) error {
	var status string
	err := s.queryRow(ctx, tx, `SELECT status FROM jobs WHERE manufacturer_id = ? AND id = ?`, manufacturerID, jobID).Scan(&status)
	switch {
	case err != nil:
		return fmt.Errorf("reading job: %w", err)
	case status == string(callout.JobSubmitted):
		return callout.Errorf(callout.ECodeJobSubmitted, "job %s is submitted: its documents cannot be replaced", jobID)
	}
	return callout.Errorf(callout.ECodeSubmitInProgress,
		"job %s is being submitted: its documents cannot be replaced until the manufacturer has answered", jobID)
}

// GetJob returns the job with its documents, or a not_found error.
func (s *Store) GetJob(ctx context.Context, manufacturerID, jobID string) (*callout.Job, error) {
	return s.getJob(ctx, s.db, manufacturerID, jobID, "")
}

func (s *Store) getJob(ctx context.Context, q querier, manufacturerID, jobID, suffix string) (*callout.Job, error) {
	var r jobRow
	err := s.queryRow(ctx, q, jobQuery+` WHERE j.manufacturer_id = ? AND j.id = ?`+suffix,
		manufacturerID, jobID).Scan(r.queryDest()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFoundJob(jobID)
	case err != nil:
		return nil, fmt.Errorf("reading job %s: %w", jobID, err)
	}
	return r.job(manufacturerID, jobID)
}

func notFoundJob(id string) error { return callout.NotFound("job " + id) }

// SavePricing sets the job's pricing (nil clears it) and, in the same
// transaction, records the delivery when it is not nil. The job's revision
// does not change. The cost comes back exactly as written; an empty cost is
// written, and comes back, as 0.
//
// A pricing is saved only while the job is at p.Revision, the revision it was
// computed from: a price whose callout was in flight when the documents were
// replaced answers its caller, but is not saved (its delivery is), so the job
// never shows it next to documents it was not computed from. Nor does it
// replace the pricing of a newer revision.
func (s *Store) SavePricing(ctx context.Context, manufacturerID, jobID string, p *callout.Pricing, d *callout.Delivery) error {
	pricing, revision, err := encodePricing(p)
	if err != nil {
		return fmt.Errorf("saving pricing of job %s: %w", jobID, err)
	}
	if s.dialect == DialectPostgres && p != nil {
		err = s.savePricingAsync(ctx, manufacturerID, jobID, pricing, revision, d)
	} else {
		err = s.savePricing(ctx, manufacturerID, jobID, pricing, revision, d)
	}
	if err != nil {
		return fmt.Errorf("saving pricing of job %s: %w", jobID, err)
	}
	return nil
}

// savePricing saves in one write transaction.
func (s *Store) savePricing(ctx context.Context, manufacturerID, jobID string, pricing sql.NullString, revision sql.NullInt64, d *callout.Delivery) error {
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.writePricing(ctx, tx, manufacturerID, jobID, pricing, revision); err != nil {
			return err
		}
		if d != nil {
			return s.insertDelivery(ctx, tx, d)
		}
		return nil
	})
}

// savePricingAsync saves a pricing and its delivery on PostgreSQL in one
// statement, committed without waiting for the disk (see asyncBatch). It
// looks the job up once, and writes nothing when it is missing.
func (s *Store) savePricingAsync(ctx context.Context, manufacturerID, jobID string, pricing sql.NullString, revision sql.NullInt64, d *callout.Delivery) error {
	query, args := savePricingQuery, []any{manufacturerID, jobID, pricing, revision}
	if d != nil {
		delivery, err := deliveryArgs(d)
		if err != nil {
			return err
		}
		query, args = savePricingDeliveryQuery, append(args, delivery...)
	}
	return s.asyncBatch(ctx, manufacturerID+"\x00"+jobID, query, args, notFoundJob(jobID))
}

// savePricingQuery is writePricing in one PostgreSQL statement, which tells
// whether the job exists: $1 and $2 name the job, $3 and $4 are the pricing
// and its revision.
const savePricingQuery = pricingCTE + `
	SELECT EXISTS (SELECT 1 FROM j)`

// savePricingDeliveryQuery is savePricingQuery that also inserts a delivery,
// from deliveryArgs in $5 to $23, while the job exists.
const savePricingDeliveryQuery = pricingCTE + `,
	d AS (INSERT INTO deliveries (manufacturer_id, ` + deliveryColumns + `)
		SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23 FROM j)
	SELECT EXISTS (SELECT 1 FROM j)`

// pricingCTE looks the job up once (j) and writes its pricing (p), as
// upsertPricingQuery does.
const pricingCTE = `WITH j AS (SELECT revision FROM jobs WHERE manufacturer_id = $1 AND id = $2),
	p AS (INSERT INTO job_pricing (manufacturer_id, job_id, pricing, revision)
		SELECT $1, $2, $3, $4 FROM j WHERE j.revision = $4
		ON CONFLICT (manufacturer_id, job_id) DO UPDATE SET pricing = excluded.pricing, revision = excluded.revision
		WHERE job_pricing.revision <= excluded.revision)`

// writePricing replaces the job's pricing of revision (NULL deletes it), or
// fails with not_found when there is no such job. It writes nothing, without
// error, when the job is at another revision or has the pricing of a newer
// one.
func (s *Store) writePricing(ctx context.Context, tx *sql.Tx, manufacturerID, jobID string, pricing sql.NullString, revision sql.NullInt64) error {
	if !pricing.Valid {
		if _, err := s.exec(ctx, tx, `DELETE FROM job_pricing WHERE manufacturer_id = ? AND job_id = ?`, manufacturerID, jobID); err != nil {
			return err
		}
		return s.jobExists(ctx, tx, manufacturerID, jobID)
	}
	// On PostgreSQL the revision check reads the job without locking it, so
	// a PutJob may commit between the two: the outcome is as if the price had
	// been saved just before the replacement, which keeps it like any
	// pricing. But ON CONFLICT updates the newest pricing row, even one
	// committed after the check: the condition on its revision keeps a late
	// price of old documents from replacing the new documents' pricing.
	res, err := s.exec(ctx, tx, upsertPricingQuery, manufacturerID, jobID, pricing, revision, manufacturerID, jobID, revision)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return s.jobExists(ctx, tx, manufacturerID, jobID)
	}
	return nil
}

// upsertPricingQuery writes the pricing of a revision while the job is at
// that revision (see writePricing).
const upsertPricingQuery = `INSERT INTO job_pricing (manufacturer_id, job_id, pricing, revision)
	SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE manufacturer_id = ? AND id = ? AND revision = ?)
	ON CONFLICT (manufacturer_id, job_id) DO UPDATE SET pricing = excluded.pricing, revision = excluded.revision
	WHERE job_pricing.revision <= excluded.revision`

// jobExists returns not_found when there is no such job.
func (s *Store) jobExists(ctx context.Context, tx *sql.Tx, manufacturerID, jobID string) error {
	var one int
	err := s.queryRow(ctx, tx, `SELECT 1 FROM jobs WHERE manufacturer_id = ? AND id = ?`, manufacturerID, jobID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFoundJob(jobID)
	}
	return err
}

// pricingQuery reads a job, its customer and the manufacturer's webhook of one
// kind in one statement, so one consistent snapshot, with one round trip.
var pricingQuery = pricingSelect(jobColumns)

// pricingStateQuery is pricingQuery without the job's documents, for a job
// whose documents the store holds already (see jobDocs).
var pricingStateQuery = pricingSelect(jobStateColumns)

func pricingSelect(jobColumns string) string {
	return `SELECT ` + qualify("j", jobColumns) + `, p.pricing, p.revision, c.id, c.document, c.updated_at, ` +
		qualify("w", webhookColumns) + `
	FROM ` + jobWithPricing + `
	LEFT JOIN customers c ON c.manufacturer_id = j.manufacturer_id AND c.id = j.customer_id
	LEFT JOIN webhooks w ON w.manufacturer_id = j.manufacturer_id AND w.kind = ?
	WHERE j.manufacturer_id = ? AND j.id = ?`
}

// qualify prefixes each of the comma-separated columns with table's alias.
func qualify(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// GetPricingInputs returns what pricing a job needs, read at one moment: the
// job with its documents, its customer (nil when there is none) and the
// manufacturer's webhook of kind with its secrets opened (nil when there is
// none). A missing job is a not_found error.
//
// The job's documents come from memory when the store holds them at the
// revision and update time the read finds (see jobDocs): a price then reads
// no documents but the customer's, and still sees every change at once.
// The documents are shared: callers must not modify them.
func (s *Store) GetPricingInputs(ctx context.Context, manufacturerID, jobID string, kind callout.Kind) (*callout.Job, *callout.Customer, *callout.Webhook, error) {
	if docs, ok := s.jobDocs.get(manufacturerID, jobID); ok {
		job, c, wh, err := s.readPricingInputs(ctx, pricingStateQuery, manufacturerID, jobID, kind)
		if err != nil {
			return nil, nil, nil, err
		}
		if docs.of(job) {
			job.Document, job.Export = docs.document, docs.export
			return job, c, wh, nil
		}
	}
	job, c, wh, err := s.readPricingInputs(ctx, pricingQuery, manufacturerID, jobID, kind)
	if err != nil {
		return nil, nil, nil, err
	}
	s.jobDocs.put(job)
	return job, c, wh, nil
}

// readPricingInputs runs pricingQuery or pricingStateQuery.
func (s *Store) readPricingInputs(ctx context.Context, query, manufacturerID, jobID string, kind callout.Kind) (*callout.Job, *callout.Customer, *callout.Webhook, error) {
	var (
		j          jobRow
		w          webhookRow
		customerID sql.NullString
		customer   []byte
		updated    sql.NullInt64
	)
	dest := j.queryDest()
	if query == pricingStateQuery {
		dest = append(j.stateDest(), &j.pricing, &j.pricingRevision)
	}
	dest = append(dest, &customerID, &customer, &updated)
	err := s.queryRow(ctx, s.db, query, string(kind), manufacturerID, jobID).Scan(append(dest, w.dest()...)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil, nil, notFoundJob(jobID)
	case err != nil:
		return nil, nil, nil, fmt.Errorf("reading job %s for pricing: %w", jobID, err)
	}
	job, err := j.job(manufacturerID, jobID)
	if err != nil {
		return nil, nil, nil, err
	}
	var c *callout.Customer
	if customerID.Valid {
		c = &callout.Customer{ID: customerID.String, ManufacturerID: manufacturerID, Document: customer,
			UpdatedAt: fromMicros(updated.Int64)}
	}
	wh, err := s.webhook(&w, manufacturerID, kind)
	if err != nil {
		return nil, nil, nil, err
	}
	return job, c, wh, nil
}
