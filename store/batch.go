package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// asyncCommit makes the transaction it runs in commit without waiting for
// its write-ahead log to reach the disk (SET LOCAL synchronous_commit = off,
// as a statement a batch can hold).
const asyncCommit = `SELECT set_config('synchronous_commit', 'off', true)`

// asyncCommitOfJob is asyncCommit that also tells whether a job exists, to
// save a batch a statement.
const asyncCommitOfJob = asyncCommit + `, EXISTS (SELECT 1 FROM jobs WHERE manufacturer_id = ? AND id = ?)`

// asyncBatch runs the statements queue adds, on PostgreSQL, in one round trip
// and one transaction (a batch runs in an implicit one), which commits
// without waiting for the write-ahead log to be flushed: read gets their
// results in order. A crash of the PostgreSQL server (not of Callout) may
// lose the last fraction of a second of such commits; PostgreSQL stays
// consistent and never keeps a later one without an earlier. So only
// records that are safe to lose go this way: prices, which the platform
// asks for again, and the deliveries of callouts. Never a submission, a claim
// or an idempotency key: a caller told one succeeded relies on it.
//
// With job, a manufacturer and job id, the batch fails with not_found when
// there is no such job; queue's statements must then write nothing.
//
// A statement's error rolls the whole batch back and is the error returned.
// An error of read's own does not: the batch is sent whole before read looks
// at a result.
func (s *Store) asyncBatch(ctx context.Context, queue func(b *pgx.Batch), job []any, read func(br pgx.BatchResults) error) error {
	b := &pgx.Batch{}
	if job != nil {
		b.Queue(s.rebind(asyncCommitOfJob), job...)
	} else {
		b.Queue(asyncCommit)
	}
	queue(b)
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		br := driverConn.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		err := readBatch(br, job, read)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// readBatch reads the results of asyncBatch's batch.
func readBatch(br pgx.BatchResults, job []any, read func(br pgx.BatchResults) error) error {
	if job == nil {
		if _, err := br.Exec(); err != nil {
			return err
		}
		return read(br)
	}
	var (
		setting string
		exists  bool
	)
	if err := br.QueryRow().Scan(&setting, &exists); err != nil {
		return err
	}
	if err := read(br); err != nil {
		return err
	}
	if !exists {
		return notFoundJob(job[1].(string))
	}
	return nil
}
