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
// and sets c.UpdatedAt. The manufacturer must exist.
func (s *Store) PutCustomer(ctx context.Context, c *callout.Customer) error {
	now := s.now()
	err := s.writeDB(ctx, func(ctx context.Context, q querier) error { return s.putCustomer(ctx, q, c, now) })
	if isForeignKeyViolation(err) {
		return notFoundManufacturer(c.ManufacturerID)
	}
	if err != nil {
		return fmt.Errorf("putting customer %s: %w", c.ID, err)
	}
	c.UpdatedAt = fromMicros(micros(now))
	return nil
}

func (s *Store) putCustomer(ctx context.Context, q querier, c *callout.Customer, now time.Time) error {
	if len(c.Document) == 0 {
		return errors.New("the customer document is empty")
	}
	_, err := s.exec(ctx, q, `INSERT INTO customers (manufacturer_id, id, document, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (manufacturer_id, id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
		c.ManufacturerID, c.ID, []byte(c.Document), micros(now), micros(now))
	return err
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
