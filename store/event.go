package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/callout/callout"
)

// Enqueuer schedules the delivery of messages inside the transaction that
// creates them, so that a message is committed if and only if its delivery
// is. The queue package's River client is one.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx *sql.Tx, keys []callout.MessageKey) error
}

// SetEnqueuer sets what schedules the delivery of new messages; without one
// messages are stored but nothing delivers them. Call it before serving.
func (s *Store) SetEnqueuer(e Enqueuer) { s.enqueuer = e }

// DB returns the database, for the queue that shares it.
func (s *Store) DB() *sql.DB { return s.db }

func notFoundEvent(manufacturerID, id string) error {
	return callout.NotFound(fmt.Sprintf("event %s of manufacturer %s", id, manufacturerID))
}

// PublishEvent stores ev and one pending message per enabled endpoint of its
// manufacturer that wants it, and schedules their delivery, all in one
// transaction. ev.ID "" gets a new id; ev.Timestamp is set. An event of the
// same id, or of the same idempotencyKey within 24 hours, is returned as it
// was first published, with Duplicate set, and nothing is written.
func (s *Store) PublishEvent(ctx context.Context, ev *callout.Event, idempotencyKey string) (*callout.PublishResult, error) {
	var res *callout.PublishResult
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		res, err = s.publishTx(ctx, tx, ev, idempotencyKey)
		return err
	})
	if isForeignKeyViolation(err) {
		return nil, notFoundManufacturer(ev.ManufacturerID)
	}
	if err != nil {
		return nil, fmt.Errorf("publishing %s event of manufacturer %s: %w", ev.Type, ev.ManufacturerID, err)
	}
	return res, nil
}

func (s *Store) publishTx(ctx context.Context, tx *sql.Tx, ev *callout.Event, idempotencyKey string) (*callout.PublishResult, error) {
	now := s.now()
	if prev, err := s.previousEvent(ctx, tx, ev, idempotencyKey, now); err != nil || prev != nil {
		return prev, err
	}
	if ev.ID == "" {
		ev.ID = "evt_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	ev.Timestamp = fromMicros(micros(now))
	keys, err := s.subscribers(ctx, tx, ev)
	if err != nil {
		return nil, err
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO events (manufacturer_id, id, type, data, idempotency_key, messages, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ev.ManufacturerID, ev.ID, ev.Type, []byte(ev.Data), idempotencyKey, len(keys), micros(now)); err != nil {
		return nil, err
	}
	if err := s.pendMessages(ctx, tx, keys, now, false); err != nil {
		return nil, err
	}
	return &callout.PublishResult{Event: *ev, Messages: len(keys)}, nil
}

// subscribers returns the keys of ev's messages: one per enabled endpoint
// of its manufacturer that wants its type. Only the filters are read: the
// endpoints' secrets stay sealed.
func (s *Store) subscribers(ctx context.Context, tx *sql.Tx, ev *callout.Event) ([]callout.MessageKey, error) {
	rows, err := s.query(ctx, tx, `SELECT id, events FROM endpoints WHERE manufacturer_id = ? AND enabled = ?
		ORDER BY created_at, id`, ev.ManufacturerID, true)
	if err != nil {
		return nil, fmt.Errorf("reading the endpoints: %w", err)
	}
	defer rows.Close()
	var keys []callout.MessageKey
	for rows.Next() {
		e := callout.Endpoint{}
		var filters string
		if err := rows.Scan(&e.ID, &filters); err != nil {
			return nil, fmt.Errorf("reading the endpoints: %w", err)
		}
		if err := json.Unmarshal([]byte(filters), &e.Events); err != nil {
			return nil, fmt.Errorf("endpoint %s: decoding its event filters: %w", e.ID, err)
		}
		if e.Wants(ev.Type) {
			keys = append(keys, callout.MessageKey{ManufacturerID: ev.ManufacturerID, EventID: ev.ID, EndpointID: e.ID})
		}
	}
	return keys, rows.Err()
}

// previousEvent returns the earlier publish of ev's id, or of
// idempotencyKey within the idempotency window, or nil.
func (s *Store) previousEvent(ctx context.Context, tx *sql.Tx, ev *callout.Event, key string, now time.Time) (*callout.PublishResult, error) {
	var (
		row  *sql.Row
		cols = `id, type, data, messages, created_at FROM events`
	)
	switch {
	case ev.ID != "":
		row = s.queryRow(ctx, tx, `SELECT `+cols+` WHERE manufacturer_id = ? AND id = ?`, ev.ManufacturerID, ev.ID)
	case key != "":
		row = s.queryRow(ctx, tx, `SELECT `+cols+` WHERE manufacturer_id = ? AND idempotency_key = ? AND created_at >= ?
			ORDER BY created_at DESC LIMIT 1`, ev.ManufacturerID, key, micros(now.Add(-callout.EventIdempotencyWindow)))
	default:
		return nil, nil
	}
	res := &callout.PublishResult{Duplicate: true, Event: callout.Event{ManufacturerID: ev.ManufacturerID}}
	var created int64
	var data []byte
	err := row.Scan(&res.Event.ID, &res.Event.Type, &data, &res.Messages, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking for an earlier publish: %w", err)
	}
	res.Event.Data, res.Event.Timestamp = data, fromMicros(created)
	return res, nil
}

// messageRows is how many messages one statement inserts at most.
const messageRows = 8

// pendMessages makes the messages of keys pending (inserted, or reset when
// redeliver is set) and schedules their delivery.
func (s *Store) pendMessages(ctx context.Context, tx *sql.Tx, keys []callout.MessageKey, now time.Time, redeliver bool) error {
	if len(keys) == 0 {
		return nil
	}
	// Up to messageRows messages a statement: fewer round trips, and few
	// statement texts to keep prepared.
	for chunk := range slices.Chunk(keys, messageRows) {
		var b strings.Builder
		b.WriteString(`INSERT INTO event_messages (manufacturer_id, event_id, endpoint_id, status, attempts,
			next_attempt_at, last_status, last_outcome, created_at, updated_at) VALUES `)
		args := make([]any, 0, 7*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(`(?, ?, ?, ?, 0, ?, 0, '', ?, ?)`)
			args = append(args, k.ManufacturerID, k.EventID, k.EndpointID, string(callout.MessagePending),
				micros(now), micros(now), micros(now))
		}
		if redeliver {
			b.WriteString(` ON CONFLICT (manufacturer_id, event_id, endpoint_id) DO UPDATE SET status = excluded.status,
				attempts = 0, next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at`)
		}
		if _, err := s.exec(ctx, tx, b.String(), args...); err != nil {
			return fmt.Errorf("inserting %d messages: %w", len(chunk), err)
		}
	}
	if s.enqueuer == nil {
		return nil
	}
	if err := s.enqueuer.EnqueueTx(ctx, tx, keys); err != nil {
		return fmt.Errorf("enqueueing %d messages: %w", len(keys), err)
	}
	return nil
}

// submittedJob is what job.submitted tells of the job, as acceptSubmission
// wrote it.
type submittedJob struct {
	customerID, externalID, messages string
	submittedAt                      time.Time
}

// publishSubmitted publishes job.submitted for an accepted submission, in
// its transaction.
func (s *Store) publishSubmitted(ctx context.Context, tx *sql.Tx, r *callout.SubmissionResult, job *submittedJob) error {
	var ext any
	if job.externalID != "" {
		ext = job.externalID
	}
	data, err := json.Marshal(struct {
		JobID       string          `json:"job_id"`
		CustomerID  string          `json:"customer_id"`
		ExternalID  any             `json:"external_id"`
		Messages    json.RawMessage `json:"messages"`
		SubmittedAt string          `json:"submitted_at"`
	}{r.JobID, job.customerID, ext, json.RawMessage(job.messages), job.submittedAt.Format(time.RFC3339Nano)})
	if err != nil {
		return fmt.Errorf("encoding the job.submitted event: %w", err)
	}
	ev := &callout.Event{ManufacturerID: r.ManufacturerID, Type: callout.EventJobSubmitted, Data: data}
	if _, err := s.publishTx(ctx, tx, ev, ""); err != nil {
		return fmt.Errorf("publishing job.submitted: %w", err)
	}
	return nil
}

// MessageDelivery is what the delivery of one message needs.
type MessageDelivery struct {
	Event    *callout.Event
	Endpoint *callout.Endpoint
	Message  *callout.EventMessage
}

// GetMessageDelivery returns the message of key with its event and endpoint, or a
// not_found error when any is gone (pruned, endpoint removed). One query
// reads all three.
func (s *Store) GetMessageDelivery(ctx context.Context, k callout.MessageKey) (*MessageDelivery, error) {
	d := &MessageDelivery{
		Event:   &callout.Event{ManufacturerID: k.ManufacturerID, ID: k.EventID},
		Message: &callout.EventMessage{ManufacturerID: k.ManufacturerID, EventID: k.EventID, EndpointID: k.EndpointID},
	}
	var (
		status  string
		next    sql.NullInt64
		created int64
		data    []byte
	)
	row := s.queryRow(ctx, s.db, `SELECT e.type, e.data, e.created_at, m.status, m.attempts, m.next_attempt_at,
			m.last_status, m.last_outcome, `+deliveryEndpointColumns+`
		FROM event_messages m JOIN events e ON e.manufacturer_id = m.manufacturer_id AND e.id = m.event_id
			JOIN endpoints p ON p.manufacturer_id = m.manufacturer_id AND p.id = m.endpoint_id
		WHERE m.manufacturer_id = ? AND m.event_id = ? AND m.endpoint_id = ?`,
		k.ManufacturerID, k.EventID, k.EndpointID)
	ep, err := s.scanEndpoint(leadingColumns{row, []any{&d.Event.Type, &data, &created, &status,
		&d.Message.Attempts, &next, &d.Message.LastHTTPStatus, &d.Message.LastOutcome}}, k.ManufacturerID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, callout.NotFound(fmt.Sprintf("message of event %s for endpoint %s", k.EventID, k.EndpointID))
	case err != nil:
		return nil, fmt.Errorf("reading message of event %s for endpoint %s: %w", k.EventID, k.EndpointID, err)
	}
	d.Endpoint = ep
	d.Event.Data, d.Event.Timestamp = data, fromMicros(created)
	d.Message.Status, d.Message.NextAttemptAt = callout.MessageStatus(status), nullMicros(next)
	return d, nil
}

// deliveryEndpointColumns are endpointColumns of the endpoints table as p.
var deliveryEndpointColumns = "p." + strings.Join(strings.Fields(strings.ReplaceAll(endpointColumns, ",", " ")), ", p.")

// leadingColumns scans a row's leading columns into dest, and the rest into
// what Scan is given.
type leadingColumns struct {
	row  interface{ Scan(...any) error }
	dest []any
}

func (l leadingColumns) Scan(dest ...any) error { return l.row.Scan(append(l.dest, dest...)...) }

// AttemptRecord is an attempt and what it means for its message and
// endpoint.
type AttemptRecord struct {
	Attempt *callout.Attempt
	// Status is the message's status after the attempt: succeeded, failed,
	// or pending with NextAttemptAt set.
	Status        callout.MessageStatus
	NextAttemptAt *time.Time
	// DisableAfter is how long an endpoint may fail before it is disabled
	// (0: the default).
	DisableAfter time.Duration
	// EndpointFailing is whether the endpoint was failing (had a
	// FailingSince) when read for the attempt. A success clears that only
	// then: an endpoint that turned failing meanwhile is cleared by its next
	// success, and the statement is saved on every other one.
	EndpointFailing bool
}

// RecordAttempt stores an attempt, moves its message on, and tracks the
// endpoint's health: a success clears its failing-since time, a failure sets
// it, and an endpoint failing for DisableAfter is disabled with its pending
// messages failed. It reports whether the endpoint was disabled.
func (s *Store) RecordAttempt(ctx context.Context, r *AttemptRecord) (disabled bool, err error) {
	a := r.Attempt
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	headers, err := json.Marshal(a.RequestHeaders)
	if err != nil {
		return false, fmt.Errorf("encoding attempt headers: %w", err)
	}
	now := s.now()
	var next sql.NullInt64
	if r.NextAttemptAt != nil {
		next = sql.NullInt64{Int64: micros(*r.NextAttemptAt), Valid: true}
	}
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		disabled = false
		if s.dialect == DialectPostgres {
			// The commit need not wait for the disk: a record lost in a
			// crash leaves the message pending, and its River job, whose
			// completion comes after this in the log and so is lost with
			// it, is rescued and the message attempted again.
			if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return err
			}
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO event_attempts (manufacturer_id, id, endpoint_id, event_id, number,
				started_at, duration_ms, http_status, outcome, detail, request_headers, response_body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ManufacturerID, a.ID, a.EndpointID, a.EventID, a.Number, micros(a.StartedAt), a.DurationMS,
			a.HTTPStatus, a.Outcome, cleanText(a.Detail), string(headers), a.ResponseBody); err != nil {
			return fmt.Errorf("inserting the attempt: %w", err)
		}
		if _, err := s.exec(ctx, tx, `UPDATE event_messages SET status = ?, attempts = ?, next_attempt_at = ?,
				last_status = ?, last_outcome = ?, updated_at = ?
			WHERE manufacturer_id = ? AND event_id = ? AND endpoint_id = ?`,
			string(r.Status), a.Number, next, a.HTTPStatus, a.Outcome, micros(now),
			a.ManufacturerID, a.EventID, a.EndpointID); err != nil {
			return fmt.Errorf("updating the message: %w", err)
		}
		if a.Outcome == callout.AttemptSucceeded {
			if !r.EndpointFailing {
				return nil
			}
			_, err := s.exec(ctx, tx, `UPDATE endpoints SET failing_since = NULL
				WHERE manufacturer_id = ? AND id = ? AND failing_since IS NOT NULL`, a.ManufacturerID, a.EndpointID)
			return err
		}
		var since sql.NullInt64
		err := s.queryRow(ctx, tx, `UPDATE endpoints SET failing_since = COALESCE(failing_since, ?)
			WHERE manufacturer_id = ? AND id = ? RETURNING failing_since`,
			micros(a.StartedAt), a.ManufacturerID, a.EndpointID).Scan(&since)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("tracking the endpoint's failures: %w", err)
		}
		if !callout.ShouldDisable(nullMicros(since), now, r.DisableAfter) {
			return nil
		}
		disabled = true
		reason := fmt.Sprintf("disabled automatically at %s: every attempt failed since %s",
			callout.FormatEventTime(now), callout.FormatEventTime(fromMicros(since.Int64)))
		if _, err := s.exec(ctx, tx, `UPDATE endpoints SET enabled = ?, disabled_reason = ?, updated_at = ?
			WHERE manufacturer_id = ? AND id = ?`, false, reason, micros(now), a.ManufacturerID, a.EndpointID); err != nil {
			return fmt.Errorf("disabling the endpoint: %w", err)
		}
		return s.endMessages(ctx, tx, a.ManufacturerID, a.EndpointID, callout.MessageFailed, now)
	})
	if err != nil {
		return false, fmt.Errorf("recording attempt %d of event %s for endpoint %s: %w", a.Number, a.EventID, a.EndpointID, err)
	}
	return disabled, nil
}

// ListEvents returns a page of events, newest first, and the cursor of the
// next page ("" on the last).
func (s *Store) ListEvents(ctx context.Context, f callout.EventFilter) ([]*callout.Event, string, error) {
	limit := pageLimit(f.Limit)
	var b strings.Builder
	b.WriteString(`SELECT id, type, data, created_at FROM events WHERE manufacturer_id = ?`)
	args := []any{f.ManufacturerID}
	if f.Type != "" {
		b.WriteString(` AND type = ?`)
		args = append(args, f.Type)
	}
	if !f.Since.IsZero() {
		b.WriteString(` AND created_at >= ?`)
		args = append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		b.WriteString(` AND created_at < ?`)
		args = append(args, micros(f.Until))
	}
	return page(ctx, s, "events", &b, args, "created_at", f.Cursor, limit,
		func(rows *sql.Rows) (*callout.Event, error) {
			ev := &callout.Event{ManufacturerID: f.ManufacturerID}
			var data []byte
			var created int64
			if err := rows.Scan(&ev.ID, &ev.Type, &data, &created); err != nil {
				return nil, err
			}
			ev.Data, ev.Timestamp = data, fromMicros(created)
			return ev, nil
		},
		func(ev *callout.Event) (time.Time, string) { return ev.Timestamp, ev.ID })
}

// pageLimit bounds a page's size.
func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return callout.DefaultDeliveryLimit
	case limit > callout.MaxDeliveryLimit:
		return callout.MaxDeliveryLimit
	}
	return limit
}

// cursorClause adds the condition of a page after cursor, ordered by column
// and id, both descending.
func cursorClause(b *strings.Builder, args *[]any, cursor, column string) error {
	if cursor == "" {
		return nil
	}
	at, id, err := decodeCursor(cursor)
	if err != nil {
		return callout.Invalid(callout.FieldError{Field: "cursor", Message: "is not a cursor this API returned"})
	}
	b.WriteString(` AND (` + column + ` < ? OR (` + column + ` = ? AND id < ?))`)
	*args = append(*args, at, at, id)
	return nil
}

// GetEvent returns the event and its messages, one per endpoint it went
// to, or a not_found error.
func (s *Store) GetEvent(ctx context.Context, manufacturerID, id string) (*callout.Event, []*callout.EventMessage, error) {
	ev := &callout.Event{ManufacturerID: manufacturerID, ID: id}
	var data []byte
	var created int64
	err := s.queryRow(ctx, s.db, `SELECT type, data, created_at FROM events WHERE manufacturer_id = ? AND id = ?`,
		manufacturerID, id).Scan(&ev.Type, &data, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil, notFoundEvent(manufacturerID, id)
	case err != nil:
		return nil, nil, fmt.Errorf("reading event %s: %w", id, err)
	}
	ev.Data, ev.Timestamp = data, fromMicros(created)
	rows, err := s.query(ctx, s.db, `SELECT endpoint_id, status, attempts, next_attempt_at, last_status, last_outcome, updated_at
		FROM event_messages WHERE manufacturer_id = ? AND event_id = ? ORDER BY endpoint_id`, manufacturerID, id)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the messages of event %s: %w", id, err)
	}
	defer rows.Close()
	var msgs []*callout.EventMessage
	for rows.Next() {
		m := &callout.EventMessage{ManufacturerID: manufacturerID, EventID: id}
		var status string
		var next sql.NullInt64
		var updated int64
		if err := rows.Scan(&m.EndpointID, &status, &m.Attempts, &next, &m.LastHTTPStatus, &m.LastOutcome, &updated); err != nil {
			return nil, nil, fmt.Errorf("reading the messages of event %s: %w", id, err)
		}
		m.Status, m.NextAttemptAt, m.UpdatedAt = callout.MessageStatus(status), nullMicros(next), fromMicros(updated)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the messages of event %s: %w", id, err)
	}
	return ev, msgs, nil
}

// ListAttempts returns a page of an endpoint's attempts, newest first, and
// the cursor of the next page.
func (s *Store) ListAttempts(ctx context.Context, f callout.AttemptFilter) ([]*callout.Attempt, string, error) {
	limit := pageLimit(f.Limit)
	var b strings.Builder
	b.WriteString(`SELECT id, event_id, number, started_at, duration_ms, http_status, outcome, detail,
		request_headers, response_body FROM event_attempts WHERE manufacturer_id = ? AND endpoint_id = ?`)
	args := []any{f.ManufacturerID, f.EndpointID}
	if f.Outcome != "" {
		b.WriteString(` AND outcome = ?`)
		args = append(args, f.Outcome)
	}
	return page(ctx, s, "attempts", &b, args, "started_at", f.Cursor, limit,
		func(rows *sql.Rows) (*callout.Attempt, error) {
			a := &callout.Attempt{ManufacturerID: f.ManufacturerID, EndpointID: f.EndpointID}
			var started int64
			var headers string
			if err := rows.Scan(&a.ID, &a.EventID, &a.Number, &started, &a.DurationMS, &a.HTTPStatus, &a.Outcome,
				&a.Detail, &headers, &a.ResponseBody); err != nil {
				return nil, err
			}
			a.StartedAt = fromMicros(started)
			if err := json.Unmarshal([]byte(headers), &a.RequestHeaders); err != nil {
				return nil, fmt.Errorf("decoding headers: %w", err)
			}
			return a, nil
		},
		func(a *callout.Attempt) (time.Time, string) { return a.StartedAt, a.ID })
}

// Redeliver schedules one more delivery of an event to endpointID, or, when
// it is "", to every endpoint it went to, whatever the messages' status. It
// returns how many messages it scheduled.
func (s *Store) Redeliver(ctx context.Context, manufacturerID, eventID, endpointID string) (int, error) {
	var n int
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := s.queryRow(ctx, tx, `SELECT 1 FROM events WHERE manufacturer_id = ? AND id = ?`,
			manufacturerID, eventID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return notFoundEvent(manufacturerID, eventID)
		} else if err != nil {
			return err
		}
		var keys []callout.MessageKey
		if endpointID != "" {
			if err := s.endpointExists(ctx, tx, manufacturerID, endpointID); err != nil {
				return err
			}
			keys = []callout.MessageKey{{ManufacturerID: manufacturerID, EventID: eventID, EndpointID: endpointID}}
		} else {
			var err error
			keys, err = s.messageKeys(ctx, tx, `SELECT m.event_id, m.endpoint_id FROM event_messages m
				JOIN endpoints p ON p.manufacturer_id = m.manufacturer_id AND p.id = m.endpoint_id
				WHERE m.manufacturer_id = ? AND m.event_id = ?`, manufacturerID, eventID)
			if err != nil {
				return err
			}
		}
		n = len(keys)
		return s.pendMessages(ctx, tx, keys, s.now(), true)
	})
	if err != nil {
		return 0, fmt.Errorf("redelivering event %s: %w", eventID, err)
	}
	return n, nil
}

// Recover schedules again every failed message of an endpoint whose event
// was published in [since, until) (until zero: up to now), and returns how
// many.
func (s *Store) Recover(ctx context.Context, manufacturerID, endpointID string, since, until time.Time) (int, error) {
	if until.IsZero() {
		until = s.now().Add(time.Microsecond)
	}
	var n int
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.endpointExists(ctx, tx, manufacturerID, endpointID); err != nil {
			return err
		}
		keys, err := s.messageKeys(ctx, tx, `SELECT m.event_id, m.endpoint_id FROM event_messages m
			JOIN events e ON e.manufacturer_id = m.manufacturer_id AND e.id = m.event_id
			WHERE m.manufacturer_id = ? AND m.endpoint_id = ? AND m.status = ? AND e.created_at >= ? AND e.created_at < ?`,
			manufacturerID, endpointID, string(callout.MessageFailed), micros(since), micros(until))
		if err != nil {
			return err
		}
		n = len(keys)
		return s.pendMessages(ctx, tx, keys, s.now(), true)
	})
	if err != nil {
		return 0, fmt.Errorf("recovering endpoint %s: %w", endpointID, err)
	}
	return n, nil
}

// endpointExists returns not_found when there is no such endpoint.
func (s *Store) endpointExists(ctx context.Context, tx *sql.Tx, manufacturerID, id string) error {
	var one int
	err := s.queryRow(ctx, tx, `SELECT 1 FROM endpoints WHERE manufacturer_id = ? AND id = ?`, manufacturerID, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFoundEndpoint(manufacturerID, id)
	}
	return err
}

// messageKeys runs a query selecting event and endpoint ids, whose first
// argument is manufacturerID, and returns them as keys of manufacturerID.
func (s *Store) messageKeys(ctx context.Context, tx *sql.Tx, query, manufacturerID string, args ...any) ([]callout.MessageKey, error) {
	rows, err := s.query(ctx, tx, query, append([]any{manufacturerID}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []callout.MessageKey
	for rows.Next() {
		k := callout.MessageKey{ManufacturerID: manufacturerID}
		if err := rows.Scan(&k.EventID, &k.EndpointID); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// PutEventType declares or redescribes an event type of the catalogue.
func (s *Store) PutEventType(ctx context.Context, t *callout.EventType) error {
	var example []byte
	if len(t.Example) > 0 {
		example = t.Example
	}
	err := s.writeDB(ctx, func(ctx context.Context, q querier) error {
		_, err := s.exec(ctx, q, `INSERT INTO event_types (name, description, example, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET description = excluded.description, example = excluded.example,
				updated_at = excluded.updated_at`, t.Name, cleanText(t.Description), example, micros(s.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("putting event type %s: %w", t.Name, err)
	}
	return nil
}

// ListEventTypes returns the declared event types by name.
func (s *Store) ListEventTypes(ctx context.Context) ([]*callout.EventType, error) {
	rows, err := s.query(ctx, s.db, `SELECT name, description, example FROM event_types ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing event types: %w", err)
	}
	defer rows.Close()
	var out []*callout.EventType
	for rows.Next() {
		t := &callout.EventType{}
		var example []byte
		if err := rows.Scan(&t.Name, &t.Description, &example); err != nil {
			return nil, fmt.Errorf("listing event types: %w", err)
		}
		t.Example = example
		out = append(out, t)
	}
	return out, rows.Err()
}

// PruneEvents deletes the events (with their messages) and attempts older
// than before, batch rows per statement, and returns how many rows it
// deleted.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, batch int) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM event_attempts WHERE (manufacturer_id, id) IN (
			SELECT manufacturer_id, id FROM event_attempts WHERE started_at < ? LIMIT ?)`,
		`DELETE FROM events WHERE (manufacturer_id, id) IN (
			SELECT manufacturer_id, id FROM events WHERE created_at < ? LIMIT ?)`,
	} {
		n, err := s.pruneBatches(ctx, q, before, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("pruning events: %w", err)
		}
	}
	return total, nil
}

// Backlog is how many messages of one endpoint are pending, and since when
// the oldest due one has waited.
type Backlog struct {
	ManufacturerID, EndpointID string
	Pending                    int
	OldestDue                  *time.Time
}

// Backlogs returns the backlog of every endpoint with pending messages.
func (s *Store) Backlogs(ctx context.Context) ([]Backlog, error) {
	rows, err := s.query(ctx, s.db, `SELECT manufacturer_id, endpoint_id, COUNT(*),
			MIN(CASE WHEN next_attempt_at <= ? THEN next_attempt_at END)
		FROM event_messages WHERE status = ? GROUP BY manufacturer_id, endpoint_id`,
		micros(s.now()), string(callout.MessagePending))
	if err != nil {
		return nil, fmt.Errorf("reading backlogs: %w", err)
	}
	defer rows.Close()
	var out []Backlog
	for rows.Next() {
		var b Backlog
		var oldest sql.NullInt64
		if err := rows.Scan(&b.ManufacturerID, &b.EndpointID, &b.Pending, &oldest); err != nil {
			return nil, fmt.Errorf("reading backlogs: %w", err)
		}
		b.OldestDue = nullMicros(oldest)
		out = append(out, b)
	}
	return out, rows.Err()
}
