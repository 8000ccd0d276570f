package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callout/callout"
)

// DefaultPruneBatch is the batch size of PruneDeliveries when it is given none.
const DefaultPruneBatch = 1000

const deliveryColumns = `id, kind, job_id, request_id, test, url, started_at, finished_at, duration_ms, attempts,
	http_status, outcome, warnings, error_detail, messages, external_id, cost, response_body`

// cleanText makes s storable in a text column of either database: PostgreSQL
// refuses NUL and invalid UTF-8, which a manufacturer's answer may hold. Both
// become U+FFFD, on both dialects alike.
func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func encodeStrings(ss []string) (string, error) {
	if ss == nil {
		ss = []string{}
	}
	b, err := json.Marshal(ss)
	return string(b), err
}

// InsertDelivery records one callout. Its text is stored as given, except that
// NUL and invalid UTF-8 become U+FFFD; its response body is stored byte for
// byte.
//
// On PostgreSQL it commits without waiting for the write-ahead log to reach
// the disk (see asyncBatch).
func (s *Store) InsertDelivery(ctx context.Context, d *callout.Delivery) error {
	if s.dialect == DialectPostgres {
		args, err := deliveryArgs(d)
		if err != nil {
			return err
		}
		return deliveryError(d, s.asyncBatch(ctx, "", insertDeliveryQuery+` RETURNING true`, args, nil))
	}
	return s.writeDB(ctx, func(ctx context.Context, q querier) error { return s.insertDelivery(ctx, q, d) })
}

func (s *Store) insertDelivery(ctx context.Context, q querier, d *callout.Delivery) error {
	args, err := deliveryArgs(d)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, q, insertDeliveryQuery, args...)
	return deliveryError(d, err)
}

// insertDeliveryQuery inserts a delivery from deliveryArgs.
const insertDeliveryQuery = `INSERT INTO deliveries (manufacturer_id, ` + deliveryColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// deliveryArgs are the values of insertDeliveryQuery's placeholders.
func deliveryArgs(d *callout.Delivery) ([]any, error) {
	warnings, err := encodeStrings(d.Warnings)
	if err != nil {
		return nil, fmt.Errorf("inserting delivery %s: %w", d.ID, err)
	}
	messages, err := encodeStrings(d.Messages)
	if err != nil {
		return nil, fmt.Errorf("inserting delivery %s: %w", d.ID, err)
	}
	var body []byte
	if d.ResponseBody != "" {
		body = []byte(d.ResponseBody)
	}
	return []any{d.ManufacturerID, d.ID, string(d.Kind), d.JobID, cleanText(d.RequestID), d.Test, cleanText(d.URL),
		micros(d.StartedAt), micros(d.FinishedAt), d.DurationMS, d.Attempts, d.HTTPStatus, string(d.Outcome),
		warnings, cleanText(d.ErrorDetail), messages, cleanText(d.ExternalID), cleanText(d.Cost), body}, nil
}

// deliveryError is the error of inserting d that failed with err.
func deliveryError(d *callout.Delivery, err error) error {
	if isForeignKeyViolation(err) {
		return notFoundManufacturer(d.ManufacturerID)
	}
	if err != nil {
		return fmt.Errorf("inserting delivery %s: %w", d.ID, err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanDelivery(row scanner, manufacturerID string) (*callout.Delivery, error) {
	d := &callout.Delivery{ManufacturerID: manufacturerID}
	var (
		kind, outcome, warnings, messages string
		started, finished                 int64
		body                              []byte
	)
	if err := row.Scan(&d.ID, &kind, &d.JobID, &d.RequestID, &d.Test, &d.URL, &started, &finished, &d.DurationMS,
		&d.Attempts, &d.HTTPStatus, &outcome, &warnings, &d.ErrorDetail, &messages, &d.ExternalID, &d.Cost, &body); err != nil {
		return nil, err
	}
	d.Kind, d.Outcome = callout.Kind(kind), callout.Outcome(outcome)
	d.StartedAt, d.FinishedAt = fromMicros(started), fromMicros(finished)
	d.ResponseBody = string(body)
	d.Warnings, d.Messages = []string{}, []string{}
	if err := json.Unmarshal([]byte(warnings), &d.Warnings); err != nil {
		return nil, fmt.Errorf("decoding the warnings of delivery %s: %w", d.ID, err)
	}
	if err := json.Unmarshal([]byte(messages), &d.Messages); err != nil {
		return nil, fmt.Errorf("decoding the messages of delivery %s: %w", d.ID, err)
	}
	return d, nil
}

// GetDelivery returns one delivery of the manufacturer, or a not_found error.
func (s *Store) GetDelivery(ctx context.Context, manufacturerID, id string) (*callout.Delivery, error) {
	row := s.queryRow(ctx, s.db, `SELECT `+deliveryColumns+` FROM deliveries WHERE manufacturer_id = ? AND id = ?`, manufacturerID, id)
	d, err := scanDelivery(row, manufacturerID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, callout.NotFound("delivery " + id)
	case err != nil:
		return nil, fmt.Errorf("reading delivery %s: %w", id, err)
	}
	return d, nil
}

// ListDeliveries returns one page of the manufacturer's deliveries matching f,
// newest first, and the cursor of the next page ("" after the last page).
// A cursor ListDeliveries did not return is a validation_failed error.
func (s *Store) ListDeliveries(ctx context.Context, f callout.DeliveryFilter) ([]*callout.Delivery, string, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = callout.DefaultDeliveryLimit
	case limit > callout.MaxDeliveryLimit:
		limit = callout.MaxDeliveryLimit
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + deliveryColumns + ` FROM deliveries WHERE manufacturer_id = ?`)
	args := []any{f.ManufacturerID}
	if f.Kind != "" {
		b.WriteString(` AND kind = ?`)
		args = append(args, string(f.Kind))
	}
	if f.JobID != "" {
		b.WriteString(` AND job_id = ?`)
		args = append(args, f.JobID)
	}
	if f.Outcome != "" {
		b.WriteString(` AND outcome = ?`)
		args = append(args, string(f.Outcome))
	}
	return page(ctx, s, "deliveries", &b, args, "started_at", f.Cursor, limit,
		func(rows *sql.Rows) (*callout.Delivery, error) { return scanDelivery(rows, f.ManufacturerID) },
		func(d *callout.Delivery) (time.Time, string) { return d.StartedAt, d.ID })
}

// page runs a listing query, b with its args, whose rows come newest first by
// column and then id: it adds the cursor's condition and the order, scans at
// most limit rows with scan, and returns them with the cursor of the next
// page ("" on the last), made from the last row's key. what names the rows
// in errors.
func page[T any](ctx context.Context, s *Store, what string, b *strings.Builder, args []any, column, cursor string, limit int,
	scan func(*sql.Rows) (T, error), key func(T) (time.Time, string)) ([]T, string, error) {
	if err := cursorClause(b, &args, cursor, column); err != nil {
		return nil, "", err
	}
	// One more row than asked tells whether there is a next page.
	b.WriteString(` ORDER BY ` + column + ` DESC, id DESC LIMIT ?`)
	args = append(args, limit+1)
	rows, err := s.query(ctx, s.db, b.String(), args...)
	if err != nil {
		return nil, "", fmt.Errorf("listing %s: %w", what, err)
	}
	defer rows.Close()
	out := make([]T, 0, limit)
	for rows.Next() {
		if len(out) == limit {
			at, id := key(out[len(out)-1])
			return out, encodeCursor(micros(at), id), nil
		}
		v, err := scan(rows)
		if err != nil {
			return nil, "", fmt.Errorf("listing %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("listing %s: %w", what, err)
	}
	return out, "", nil
}

// A cursor is the base64url of the last row's start time in microseconds and
// its id, joined by a dot.
func encodeCursor(started int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(started, 10) + "." + id))
}

func decodeCursor(c string) (started int64, id string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", err
	}
	num, id, ok := strings.Cut(string(raw), ".")
	if !ok || id == "" {
		return 0, "", errors.New("no id")
	}
	started, err = strconv.ParseInt(num, 10, 64)
	return started, id, err
}

// PruneDeliveries deletes the deliveries that started before before, batch
// rows per statement so that no statement holds its locks for long, and
// returns how many it deleted.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time, batch int) (int64, error) {
	n, err := s.pruneBatches(ctx, `DELETE FROM deliveries WHERE (manufacturer_id, id) IN (
		SELECT manufacturer_id, id FROM deliveries WHERE started_at < ? LIMIT ?)`, before, batch)
	if err != nil {
		return n, fmt.Errorf("pruning deliveries: %w", err)
	}
	return n, nil
}

// pruneBatches runs query, a DELETE of at most batch rows older than
// before, until it deletes fewer than batch, and returns how many it
// deleted.
func (s *Store) pruneBatches(ctx context.Context, query string, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	var total int64
	for {
		var res sql.Result
		err := s.writeDB(ctx, func(ctx context.Context, q querier) (err error) {
			res, err = s.exec(ctx, q, query, micros(before), batch)
			return err
		})
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
