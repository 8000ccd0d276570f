package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/callout/callout"
)

// CreateConsoleLink records a one-time sign-in link by the hash of its token.
func (s *Store) CreateConsoleLink(ctx context.Context, tokenHash, manufacturerID string, expires time.Time) error {
	err := s.writeDB(ctx, func(ctx context.Context, q querier) error {
		_, err := s.exec(ctx, q, `INSERT INTO console_links (token_hash, manufacturer_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			tokenHash, manufacturerID, micros(s.now()), micros(expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("creating a console link: %w", err)
	}
	return nil
}

// UseConsoleLink marks the link of tokenHash used and returns its
// manufacturer id. A link works once, and only before it expires: an unknown,
// used or expired link is not_found, one error for all three, so that a caller
// learns nothing of which links exist. Two concurrent uses: one wins.
func (s *Store) UseConsoleLink(ctx context.Context, tokenHash string, now time.Time) (manufacturerID string, err error) {
	err = s.writeDB(ctx, func(ctx context.Context, q querier) error {
		return s.queryRow(ctx, q, `UPDATE console_links SET used_at = ?
			WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING manufacturer_id`,
			micros(now), tokenHash, micros(now)).Scan(&manufacturerID)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", callout.NotFound("console link")
	case err != nil:
		return "", fmt.Errorf("using a console link: %w", err)
	}
	return manufacturerID, nil
}

// CreateConsoleSession records a console session by the hash of its token.
func (s *Store) CreateConsoleSession(ctx context.Context, tokenHash string, sess callout.ConsoleSession) error {
	err := s.writeDB(ctx, func(ctx context.Context, q querier) error {
		_, err := s.exec(ctx, q, `INSERT INTO console_sessions (token_hash, manufacturer_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			tokenHash, sess.ManufacturerID, micros(s.now()), micros(sess.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("creating a console session: %w", err)
	}
	return nil
}

// GetConsoleSession returns the session of tokenHash, or not_found when
// there is none or it expired by now.
func (s *Store) GetConsoleSession(ctx context.Context, tokenHash string, now time.Time) (*callout.ConsoleSession, error) {
	var (
		sess    callout.ConsoleSession
		expires int64
	)
	err := s.queryRow(ctx, s.db, `SELECT manufacturer_id, expires_at FROM console_sessions WHERE token_hash = ? AND expires_at > ?`,
		tokenHash, micros(now)).Scan(&sess.ManufacturerID, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, callout.NotFound("console session")
	case err != nil:
		return nil, fmt.Errorf("reading a console session: %w", err)
	}
	sess.ExpiresAt = fromMicros(expires)
	return &sess, nil
}

// DeleteConsoleSession ends the session of tokenHash; ending one that does
// not exist is not an error (signing out twice is fine).
func (s *Store) DeleteConsoleSession(ctx context.Context, tokenHash string) error {
	err := s.writeDB(ctx, func(ctx context.Context, q querier) error {
		_, err := s.exec(ctx, q, `DELETE FROM console_sessions WHERE token_hash = ?`, tokenHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("ending a console session: %w", err)
	}
	return nil
}

// PruneConsole deletes the links and sessions that expired before before,
// and returns how many.
func (s *Store) PruneConsole(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, table := range []string{"console_links", "console_sessions"} {
		err := s.writeDB(ctx, func(ctx context.Context, q querier) error {
			res, err := s.exec(ctx, q, `DELETE FROM `+table+` WHERE expires_at < ?`, micros(before))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			total += n
			return err
		})
		if err != nil {
			return total, fmt.Errorf("pruning %s: %w", table, err)
		}
	}
	return total, nil
}
