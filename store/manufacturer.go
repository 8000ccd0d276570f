package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/callout/callout"
)

func notFoundManufacturer(id string) error { return callout.NotFound("manufacturer " + id) }

// PutManufacturer creates the manufacturer, or renames it when it exists.
// created reports whether it was new. A NUL in the name becomes U+FFFD.
func (s *Store) PutManufacturer(ctx context.Context, id, name string) (m *callout.Manufacturer, created bool, err error) {
	now := micros(s.now())
	name = cleanText(name)
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `INSERT INTO manufacturers (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, id, name, now, now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		if !created {
			if _, err := s.exec(ctx, tx, `UPDATE manufacturers SET name = ?, updated_at = ? WHERE id = ?`, name, now, id); err != nil {
				return err
			}
		}
		m, err = s.getManufacturer(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("putting manufacturer %s: %w", id, err)
	}
	return m, created, nil
}

// GetManufacturer returns the manufacturer, or a not_found error.
func (s *Store) GetManufacturer(ctx context.Context, id string) (*callout.Manufacturer, error) {
	return s.getManufacturer(ctx, s.db, id)
}

func (s *Store) getManufacturer(ctx context.Context, q querier, id string) (*callout.Manufacturer, error) {
	m := &callout.Manufacturer{ID: id}
	var created, updated int64
	err := s.queryRow(ctx, q, `SELECT name, created_at, updated_at FROM manufacturers WHERE id = ?`, id).Scan(&m.Name, &created, &updated)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFoundManufacturer(id)
	case err != nil:
		return nil, fmt.Errorf("reading manufacturer %s: %w", id, err)
	}
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	return m, nil
}

// manufacturerExists returns NotFound when the manufacturer does not exist.
func (s *Store) manufacturerExists(ctx context.Context, q querier, id string) error {
	var one int
	err := s.queryRow(ctx, q, `SELECT 1 FROM manufacturers WHERE id = ?`, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return notFoundManufacturer(id)
	case err != nil:
		return fmt.Errorf("reading manufacturer %s: %w", id, err)
	}
	return nil
}
