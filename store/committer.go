package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// writeDB runs one writing statement. On SQLite it joins the committer's
// batches like any write transaction, so that all of this process's writes
// queue in one place; on PostgreSQL it runs on its own.
func (s *Store) writeDB(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if s.txQueue == nil {
		return fn(ctx, s.db)
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return fn(ctx, tx) })
}

// inTx runs fn in a write transaction and commits it. On PostgreSQL each
// call is its own transaction. On SQLite, which commits one transaction at a
// time, calls that arrive while another commits are grouped: the committer
// runs a batch of them in one transaction, each inside its own savepoint (so
// one's failure rolls back only its own writes), and commits once. A call
// returns only when its writes are committed or rolled back, and fn runs with
// a context that carries ctx's values but is never cancelled, because on
// SQLite cancelling one statement would roll back the whole batch.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if s.txQueue == nil {
		return s.runTx(ctx, fn)
	}
	req := &txRequest{ctx: context.WithoutCancel(ctx), fn: fn, done: make(chan error, 1)}
	select {
	case s.txQueue <- req:
		return <-req.done
	case <-s.stopCommits:
		return errors.New("store: closed")
	case <-ctx.Done():
		return fmt.Errorf("waiting to write: %w", ctx.Err())
	}
}

// runTx runs fn in one transaction.
func (s *Store) runTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// txRequest is a write transaction waiting for the SQLite committer.
type txRequest struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// maxBatch bounds how many transactions the SQLite committer groups.
const maxBatch = 64

// commit runs the SQLite write transactions handed to inTx, and between two
// batches the end of each checkpoint (see checkpoint). txQueue is
// unbuffered: a request is either taken here or its caller is told the store
// is closed, never left waiting.
func (s *Store) commit() {
	defer close(s.commitsDone)
	batch := make([]*txRequest, 0, maxBatch)
	for {
		select {
		case r := <-s.txQueue:
			batch = append(batch[:0], r)
		case <-s.catchUp:
			s.catchUpLog()
			continue
		case <-s.stopCommits:
			return
		}
		batch = drain(batch, s.txQueue)
		s.commitBatch(batch)
		// The slots beyond the next batch's width would otherwise keep
		// these requests, and the documents their closures hold, alive.
		clear(batch)
	}
}

// drain adds to batch the requests waiting on queue, up to maxBatch.
func drain[T any](batch []T, queue <-chan T) []T {
	for len(batch) < maxBatch {
		select {
		case r := <-queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commitBatch runs batch in one transaction and tells each request how its
// own part went: its own error, else the batch's, else nil once committed.
func (s *Store) commitBatch(batch []*txRequest) {
	errs := make([]error, len(batch))
	err := s.runTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		if len(batch) == 1 {
			errs[0] = batch[0].fn(batch[0].ctx, tx)
			return errs[0]
		}
		for i, r := range batch {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT batched"); err != nil {
				return err
			}
			if errs[i] = r.fn(r.ctx, tx); errs[i] != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO batched"); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE batched"); err != nil {
				return err
			}
		}
		return nil
	})
	for i, r := range batch {
		r.done <- cmp.Or(errs[i], err)
	}
}
