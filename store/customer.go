package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/callout/callout"
)

// PutCustomer stores c's document byte for byte, replacing any earlier one,
// and sets c.UpdatedAt. created reports whether the customer was new. The
// manufacturer must exist.
func (s *Store) PutCustomer(ctx context.Context, c *callout.Customer) (created bool, err error) {
	now := s.now()
	err = s.writeDB(ctx, func(ctx context.Context, q querier) error {
		var err error
		created, err = s.putCustomer(ctx, q, c, now)
		return err
	})
	if isForeignKeyViolation(err) {
		return false, notFoundManufacturer(c.ManufacturerID)
	}
	if err != nil {
		return false, fmt.Errorf("putting customer %s: %w", c.ID, err)
	}
	c.UpdatedAt = fromMicros(micros(now))
	return created, nil
}

// putCustomer inserts the customer, or replaces the document of the one
// stored, and reports which.
func (s *Store) putCustomer(ctx context.Context, q querier, c *callout.Customer, now time.Time) (created bool, err error) {
	if len(c.Document) == 0 {
		return false, errors.New("the customer document is empty")
	}
	res, err := s.exec(ctx, q, `INSERT INTO customers (manufacturer_id, id, document, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (manufacturer_id, id) DO NOTHING`,
		c.ManufacturerID, c.ID, []byte(c.Document), micros(now), micros(now))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, err
	}
	_, err = s.exec(ctx, q, `UPDATE customers SET document = ?, updated_at = ? WHERE manufacturer_id = ? AND id = ?`,
		[]byte(c.Document), micros(now), c.ManufacturerID, c.ID)
	return false, err
}

// GetCustomer returns the customer with its document, or a not_found error.
func (s *Store) GetCustomer(ctx context.Context, manufacturerID, customerID string) (*callout.Customer, error) {
	c := &callout.Customer{ID: customerID, ManufacturerID: manufacturerID}
	var doc []byte
	var updated int64
	err := s.queryRow(ctx, s.db, `SELECT document, updated_at FROM customers WHERE manufacturer_id = ? AND id = ?`,
		manufacturerID, customerID).Scan(&doc, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, callout.NotFound("customer " + customerID)
	case err != nil:
		return nil, fmt.Errorf("reading customer %s: %w", customerID, err)
	}
	c.Document, c.UpdatedAt = doc, fromMicros(updated)
	return c, nil
}
