package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// installationBytes is the length of the installation's random value.
const installationBytes = 32

// Installation returns the random value that identifies this installation's
// data, generating and storing it on first use. Every process sharing the
// database gets the same value (the first writer's), and it lasts as long as
// the data does: a restored backup keeps it, a new database gets a new one.
func (s *Store) Installation(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, installationBytes)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("store: generating the installation value: %w", err)
	}
	err := s.writeDB(ctx, func(ctx context.Context, q querier) error {
		_, err := s.exec(ctx, q, `INSERT INTO installation (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, hex.EncodeToString(fresh))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: storing the installation value: %w", err)
	}
	var text string
	if err := s.queryRow(ctx, s.db, `SELECT secret FROM installation WHERE id = 1`).Scan(&text); err != nil {
		return nil, fmt.Errorf("store: reading the installation value: %w", err)
	}
	v, err := hex.DecodeString(text)
	if err != nil || len(v) == 0 {
		return nil, fmt.Errorf("store: the installation value is damaged (%d characters)", len(text))
	}
	return v, nil
}
