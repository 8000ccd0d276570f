package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// asyncCommit makes the transaction it runs in commit without waiting for
// its write-ahead log to reach the disk (SET LOCAL synchronous_commit = off,
// as a statement a batch can hold).
const asyncCommit = `SELECT set_config('synchronous_commit', 'off', true)`

// asyncBatch runs one statement on PostgreSQL, in a transaction that commits
// without waiting for the write-ahead log to be flushed. A crash of the
// PostgreSQL server (not of Callout) may lose the last moments (up to three
// times wal_writer_delay) of such commits; PostgreSQL stays consistent and
// never keeps a later one without an earlier. So only records that are safe
// to lose go this way: prices, which the platform asks for again, and the
// deliveries of callouts. Never a submission, a claim or an idempotency key:
// a caller told one succeeded relies on it.
//
// The statement returns one row of one boolean: false means it found nothing
// to write, and asyncBatch then returns missing. Statements that arrive
// while a batch is in flight are grouped into the next, in the order of
// their keys (see writeAsync).
func (s *Store) asyncBatch(ctx context.Context, key, query string, args []any, missing error) error {
	w := &asyncWrite{key: key, query: s.rebind(query), args: args, missing: missing, done: make(chan error, 1)}
	select {
	case s.asyncQueue <- w:
		return <-w.done
	case <-s.stopAsync:
		return errors.New("store: closed")
	case <-ctx.Done():
		return fmt.Errorf("waiting to write: %w", ctx.Err())
	}
}

// asyncWrite is one call of asyncBatch. Its key orders the writes of a batch
// (by job), so that two processes' batches lock the rows of the same jobs in
// the same order and never deadlock.
type asyncWrite struct {
	key, query string
	args       []any
	missing    error
	done       chan error
}

// writeAsync sends the writes handed to asyncBatch, grouping those that
// arrive while a batch is in flight into the next: one round trip and one
// commit for many prices, as the SQLite committer groups its transactions.
// asyncQueue is unbuffered: a write is either taken here or its caller is
// told the store is closed.
func (s *Store) writeAsync() {
	defer close(s.asyncDone)
	batch := make([]*asyncWrite, 0, maxBatch)
	for {
		select {
		case w := <-s.asyncQueue:
			batch = append(batch[:0], w)
		case <-s.stopAsync:
			return
		}
		batch = drain(batch, s.asyncQueue)
		s.sendAsync(batch)
		clear(batch)
	}
}

// sendAsync sends batch as one transaction and tells each write how it went.
// When a statement fails, PostgreSQL rolls the whole transaction back: each
// write is then sent again alone, so that only the failing one fails.
func (s *Store) sendAsync(batch []*asyncWrite) {
	if len(batch) > 1 {
		slices.SortStableFunc(batch, func(a, b *asyncWrite) int { return strings.Compare(a.key, b.key) })
	}
	errs, err := s.send(batch)
	if err != nil && len(batch) > 1 {
		for _, w := range batch {
			errs, err := s.send([]*asyncWrite{w})
			w.done <- cmp.Or(err, errs[0])
		}
		return
	}
	for i, w := range batch {
		w.done <- cmp.Or(err, errs[i])
	}
}

// send runs writes in one batch. It returns each write's own error
// (missing), and the batch's.
func (s *Store) send(writes []*asyncWrite) ([]error, error) {
	b := &pgx.Batch{}
	b.Queue(asyncCommit)
	for _, w := range writes {
		b.Queue(w.query, w.args...)
	}
	errs := make([]error, len(writes))
	// Never cancelled: cancelling would roll back every write of the batch.
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return errs, fmt.Errorf("store: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(driverConn any) error {
		br := driverConn.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		err := readAsync(br, writes, errs)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	return errs, err
}

// readAsync reads the results of send's batch into errs.
func readAsync(br pgx.BatchResults, writes []*asyncWrite, errs []error) error {
	if _, err := br.Exec(); err != nil {
		return err
	}
	for i, w := range writes {
		var wrote bool
		if err := br.QueryRow().Scan(&wrote); err != nil {
			return err
		}
		if !wrote {
			errs[i] = w.missing
		}
	}
	return nil
}
