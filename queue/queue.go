// Package queue runs the delivery of event messages on River
// (github.com/riverqueue/river), on the store's own database: one River job
// per message, inserted in the transaction that creates the message, worked
// by a Deliverer that makes one attempt per run and asks to be run again
// when the schedule says (README: Events).
//
// On SQLite one River client on the store's database both inserts and works.
// On PostgreSQL the store's transactions are database/sql ones, so an
// insert-only client on riverdatabasesql inserts into them, and a working
// client on riverpgxv5 (its own pgx pool) fetches: pgx gives River
// LISTEN/NOTIFY, which wakes a worker the moment a job commits, on every
// process sharing the database.
package queue

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/callout/callout"
	"github.com/callout/callout/store"
)

// Deliverer makes one attempt of a message. It returns done when the
// message needs no further run (delivered, failed for good, cancelled,
// gone), or else how long to wait before the next run. waits is how many
// runs of the message's job ended in a wait so far, so that a message kept
// waiting for its endpoint backs off. An error is a local failure (the
// database): the run is repeated shortly.
type Deliverer interface {
	Deliver(ctx context.Context, k callout.MessageKey, waits int) (done bool, after time.Duration, err error)
}

// Defaults.
const (
	// DefaultWorkers is how many messages one process attempts at once.
	DefaultWorkers = 100
	// jobTimeout bounds one run: the longest endpoint timeout and a margin
	// for reading and recording.
	jobTimeout = time.Duration(callout.MaxEndpointTimeoutMS)*time.Millisecond + 10*time.Second
	// DefaultLease is how long a run may last before River's rescuer gives
	// its job to another worker: a process killed mid-attempt delays its
	// messages by at most this.
	DefaultLease = jobTimeout + 5*time.Second
	// maxAttempts is River's own limit, never reached: our schedule ends a
	// message by returning done, and snoozes do not count as River attempts.
	maxAttempts = 10_000
	// fetchCooldown is the least time between two fetches of a worker, and
	// between two notifications of new jobs.
	fetchCooldown = 5 * time.Millisecond
	// errorRetry is the wait after a local failure.
	errorRetry = 5 * time.Second
)

// Options configure a Queue.
type Options struct {
	// Store is the database the jobs live in, beside the messages.
	Store *store.Store
	// URL is the PostgreSQL URL, for the working client's pgx pool; "" on
	// SQLite.
	URL string
	// Deliverer works the jobs; nil makes an insert-only queue.
	Deliverer Deliverer
	// Workers is how many jobs run at once (0: DefaultWorkers).
	Workers int
	// Lease is how long before a stuck run is rescued (0: DefaultLease). It
	// must exceed the longest endpoint timeout.
	Lease time.Duration
	// PollInterval is how often workers look for due jobs without being
	// woken (0: 20 ms on SQLite, whose River wakes its workers only by
	// polling a table every 50 ms, and 250 ms on PostgreSQL, which is
	// woken by LISTEN/NOTIFY: 250 ms picks up short snoozes). On SQLite
	// it bounds the wait from a publish to the first attempt: 50 ms there
	// gave a p50 of 68 ms, 20 ms one of 18 ms, for 50 empty fetches a
	// second when idle.
	PollInterval time.Duration
	// Logger receives River's warnings; nil discards them.
	Logger *slog.Logger
}

// Queue inserts and works message jobs. It implements store.Enqueuer.
type Queue struct {
	insert interface {
		InsertManyFastTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) (int, error)
	}
	work interface {
		Start(ctx context.Context) error
		Stop(ctx context.Context) error
	}
	pool    *pgxpool.Pool
	working bool
}

var _ store.Enqueuer = (*Queue)(nil)

// messageArgs is a message job's arguments.
type messageArgs struct {
	callout.MessageKey
}

// Kind names message jobs.
func (messageArgs) Kind() string { return "callout.event_message" }

// InsertOpts keeps River from giving up on a message: our schedule decides.
func (messageArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: maxAttempts} }

// worker runs one attempt of a message per run.
type worker struct {
	river.WorkerDefaults[messageArgs]
	d Deliverer
}

func (w *worker) Work(ctx context.Context, job *river.Job[messageArgs]) error {
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &meta) // River's own; absent before the first snooze
	done, after, err := w.d.Deliver(ctx, job.Args.MessageKey, meta.Snoozes)
	switch {
	case err != nil:
		return err
	case done:
		return nil
	}
	return river.JobSnooze(after)
}

func (w *worker) NextRetry(*river.Job[messageArgs]) time.Time { return time.Now().Add(errorRetry) }

// New applies River's migrations to the store's database and builds the
// clients. Start starts working.
func New(ctx context.Context, o Options) (*Queue, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{d: o.Deliverer})
	lease := cmp.Or(o.Lease, DefaultLease)
	config := func(poll time.Duration) *river.Config {
		c := &river.Config{
			Workers: workers,
			Logger:  log,
			// River wants a run's timeout within the lease; a lease
			// shorter than the default (tests, --dev) cuts runs short.
			JobTimeout:           min(jobTimeout, lease-time.Second),
			RescueStuckJobsAfter: lease,
			FetchPollInterval:    cmp.Or(o.PollInterval, poll),
			FetchCooldown:        fetchCooldown,
			MaxAttempts:          maxAttempts,
			// Kept briefly: the messages table is the record.
			CompletedJobRetentionPeriod: time.Hour,
		}
		if o.Deliverer != nil {
			c.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmp.Or(o.Workers, DefaultWorkers)}}
		}
		return c
	}
	db := o.Store.DB()
	q := &Queue{working: o.Deliverer != nil}
	if o.Store.Dialect() == store.DialectSQLite {
		driver := riversqlite.New(db)
		if err := migrate(ctx, driver, log); err != nil {
			return nil, err
		}
		c, err := river.NewClient(driver, config(20*time.Millisecond))
		if err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		q.insert, q.work = c, c
		return q, nil
	}
	// The inserter's FetchCooldown also spaces its insert notifications:
	// River's default, 100 ms, would let a job wait that long for a worker.
	inserter, err := river.NewClient(riverdatabasesql.New(db), &river.Config{Workers: workers, Logger: log,
		MaxAttempts: maxAttempts, FetchCooldown: fetchCooldown})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	q.insert = inserter
	poolConfig, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("queue: opening PostgreSQL: %w", err)
	}
	// The working client's writes (fetches, completions, snoozes, leader
	// election, maintenance) need not wait for the disk: one lost in a
	// crash is done again (a job fetched or completed again finds its
	// message's status in the store, which Deliver checks). The jobs
	// themselves are inserted by the store's transactions, which wait.
	poolConfig.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, fmt.Errorf("queue: opening PostgreSQL: %w", err)
	}
	driver := riverpgxv5.New(pool)
	if err := migratePostgres(ctx, pool, driver, log); err != nil {
		pool.Close()
		return nil, err
	}
	c, err := river.NewClient(driver, config(250*time.Millisecond))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("queue: %w", err)
	}
	q.work, q.pool = c, pool
	return q, nil
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], log *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("queue: River migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("queue: applying River's migrations: %w", err)
	}
	return nil
}

// migratePostgres applies River's migrations under an advisory lock, so
// that processes starting together migrate one at a time.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, driver *riverpgxv5.Driver, log *slog.Logger) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	defer conn.Release()
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_database() || '/' || COALESCE(current_schema(), '')`).Scan(&schema); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("callout-river-migrations\x00" + schema))
	id := int64(h.Sum64())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, id); err != nil {
		return fmt.Errorf("queue: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, id)
	return migrate(ctx, driver, log)
}

// EnqueueTx inserts one job per message in tx, the store's transaction.
func (q *Queue) EnqueueTx(ctx context.Context, tx *sql.Tx, keys []callout.MessageKey) error {
	params := make([]river.InsertManyParams, len(keys))
	for i, k := range keys {
		params[i] = river.InsertManyParams{Args: messageArgs{k}}
	}
	if _, err := q.insert.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("inserting River jobs: %w", err)
	}
	return nil
}

// Start starts working jobs; it does nothing on an insert-only queue.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if err := q.work.Start(ctx); err != nil {
		return fmt.Errorf("queue: starting River: %w", err)
	}
	return nil
}

// Stop stops fetching, waits for the runs under way until ctx ends, and
// closes the pool. Runs still going when ctx ends are cancelled; River's
// rescuer gives their jobs to another worker after the lease.
func (q *Queue) Stop(ctx context.Context) error {
	var err error
	if q.working {
		err = q.work.Stop(ctx)
	}
	if q.pool != nil {
		q.pool.Close()
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("queue: stopping River: %w", err)
	}
	return nil
}
