// Package store keeps Callout's state: manufacturers, webhooks (secrets sealed),
// customers, jobs, submission claims and responses, idempotency keys and
// deliveries. One implementation on database/sql serves both the embedded
// default, SQLite (pure Go, modernc.org/sqlite), and PostgreSQL (pgx), for
// several Callout processes sharing one database. The few differences between
// the two dialects are handled by small helpers here, not by two copies of
// every query.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The dialects, as Dialect reports them.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// DatabaseFile is the name of the SQLite database inside the data directory.
const DatabaseFile = "callout.db"

// Pool defaults. SQLite in WAL mode serves many readers at once while writers
// queue on the busy timeout; PostgreSQL gets a pool sized for a few processes
// sharing one server.
const (
	DefaultSQLiteMaxOpenConns   = 8
	DefaultPostgresMaxOpenConns = 20
	DefaultPostgresMaxIdleConns = 10
	DefaultConnMaxLifetime      = 30 * time.Minute
)

// sqliteBusyTimeout is how long a SQLite writer waits for the lock before it
// fails with SQLITE_BUSY, in milliseconds.
const sqliteBusyTimeout = 10000

// Sealer encrypts and decrypts webhook secrets at rest. The additional data
// binds a sealed value to the place it is stored. *secret.Box is one.
type Sealer interface {
	Seal(plaintext, additional []byte) ([]byte, error)
	Open(sealed, additional []byte) ([]byte, error)
}

// Options configure Open.
type Options struct {
	// URL selects PostgreSQL when it starts with postgres:// or
	// postgresql://; "" selects SQLite in DataDir.
	URL string
	// DataDir holds the SQLite database, DataDir/callout.db. It is created
	// with mode 0700 when missing.
	DataDir string
	// Sealer encrypts webhook secrets at rest. It is required.
	Sealer Sealer
	// Pool settings; 0 selects the dialect's default.
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	// CheckpointInterval is how often SQLite's write-ahead log is copied
	// into the database; 0 or less means every second.
	CheckpointInterval time.Duration
	// Now is the clock for timestamps and leases; nil means time.Now.
	Now func() time.Time
	// Logger receives migration progress; nil discards it.
	Logger *slog.Logger
}

// Store is Callout's database. It is safe for concurrent use, and several
// processes may share one PostgreSQL database.
type Store struct {
	db      *sql.DB
	dialect string
	sealer  Sealer
	now     func() time.Time
	logger  *slog.Logger

	// stmts caches prepared statements by query text (SQLite only).
	// modernc.org/sqlite keeps a prepared statement compiled, and
	// database/sql keeps one per connection, so a hot query is parsed once
	// per connection instead of on every call. PostgreSQL needs none: pgx
	// caches its own prepared statements per connection.
	// pending holds the queries a transaction found unprepared.
	stmtMu  sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]struct{}

	// stopCheckpoints ends the SQLite checkpointer; checkpointsDone closes
	// when it has.
	stopCheckpoints    chan struct{}
	checkpointsDone    chan struct{}
	checkpointInterval time.Duration
	// catchUp asks the committer to finish a checkpoint while no write
	// runs (see checkpoint).
	catchUp chan struct{}

	// txQueue hands every write of this process to the SQLite committer
	// (nil on PostgreSQL), the one goroutine that writes. SQLite runs one
	// writer at a time; writers left to meet in its busy handler would wait
	// there polling by sleeps of 1 to 100 ms, most of their time asleep. The
	// busy timeout remains the guard against other processes. stopCommits
	// ends the committer and commitsDone closes when it has.
	txQueue     chan *txRequest
	stopCommits chan struct{}
	commitsDone chan struct{}
}

// checkpointInterval is how often the SQLite checkpointer copies the
// write-ahead log back into the database.
const checkpointInterval = time.Second

// checkpoint copies the write-ahead log into the database every interval,
// off the request path. SQLite's automatic checkpoint would otherwise run
// inside whichever commit crosses 1,000 log pages, adding its writes and
// fsyncs to that one request's latency.
//
// Each round has two steps. A PASSIVE checkpoint, which takes no write lock,
// copies the bulk of the log while writers go on. But under a steady stream
// of writes that alone never lets the log restart: SQLite rewinds it only
// when a write begins with every frame already copied, and commits land
// while the checkpoint runs. The log would then grow for as long as the
// writes go on (at 500 prices a second, by 16 MB a second). So the committer
// then copies the few frames written meanwhile, between two of its batches,
// when nothing can be written (at 500 prices a second, 3 to 6 ms without
// commits, once a second); its next commit rewinds the log.
func (s *Store) checkpoint() {
	defer close(s.checkpointsDone)
	t := time.NewTicker(s.checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopCheckpoints:
			return
		case <-t.C:
		}
		s.checkpointLog()
		select {
		case s.catchUp <- struct{}{}:
		default: // the committer has not taken the last one yet
		}
	}
}

// checkpointLog copies the write-ahead log into the database as far as
// readers allow. It takes no write lock.
func (s *Store) checkpointLog() {
	if _, err := s.db.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		s.logger.Warn("store: checkpointing the SQLite log", "error", err)
	}
}

// Open opens the database o selects, checks that it answers, and applies
// pending migrations.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Sealer == nil {
		return nil, errors.New("store: a Sealer is required to keep webhook secrets encrypted")
	}
	s := &Store{sealer: o.Sealer, now: o.Now, logger: o.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	var err error
	switch {
	case strings.HasPrefix(o.URL, "postgres://"), strings.HasPrefix(o.URL, "postgresql://"):
		s.dialect = DialectPostgres
		s.db, err = sql.Open("pgx", o.URL)
		if err != nil {
			// pgx redacts the password from its parse errors.
			return nil, fmt.Errorf("store: opening PostgreSQL: %w", err)
		}
		s.db.SetMaxOpenConns(cmp.Or(o.MaxOpenConns, DefaultPostgresMaxOpenConns))
		s.db.SetMaxIdleConns(cmp.Or(o.MaxIdleConns, DefaultPostgresMaxIdleConns))
		s.db.SetConnMaxLifetime(cmp.Or(o.ConnMaxLifetime, DefaultConnMaxLifetime))
	case o.URL != "":
		// The URL may hold a password: never repeat it.
		return nil, errors.New("store: the database URL must start with postgres:// or postgresql://, or be empty for SQLite")
	default:
		s.dialect = DialectSQLite
		s.stmts = make(map[string]*sql.Stmt)
		s.pending = make(map[string]struct{})
		dsn, err := sqliteDSN(o.DataDir)
		if err != nil {
			return nil, err
		}
		s.db, err = sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: opening SQLite: %w", err)
		}
		n := cmp.Or(o.MaxOpenConns, DefaultSQLiteMaxOpenConns)
		s.db.SetMaxOpenConns(n)
		s.db.SetMaxIdleConns(cmp.Or(o.MaxIdleConns, n))
		s.db.SetConnMaxLifetime(o.ConnMaxLifetime)
	}
	if err := s.Ping(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if s.dialect == DialectSQLite {
		s.stopCheckpoints, s.checkpointsDone = make(chan struct{}), make(chan struct{})
		s.checkpointInterval = o.CheckpointInterval
		if s.checkpointInterval <= 0 {
			s.checkpointInterval = checkpointInterval
		}
		s.catchUp = make(chan struct{}, 1)
		go s.checkpoint()
		s.txQueue, s.stopCommits, s.commitsDone = make(chan *txRequest), make(chan struct{}), make(chan struct{})
		go s.commit()
	}
	return s, nil
}

// sqliteDSN creates dir and returns the modernc DSN of the database in it.
//
// WAL with synchronous=NORMAL keeps every committed transaction across a
// process kill (only a power loss can lose the last ones), and lets readers
// run while one writer writes. Write transactions begin IMMEDIATE so that they
// take the write lock up front and queue on the busy timeout, instead of
// failing with SQLITE_BUSY when a read lock cannot be upgraded.
//
// The log is checkpointed by the Store's own checkpointer (see checkpoint),
// not automatically inside a commit.
//
// Temporary tables and indices (sorting) stay in memory rather than in files.
// There is deliberately no mmap_size: a connection unmaps the whole file each
// time it sees another connection's commit, so under a stream of writes
// memory-mapping costs far more (munmap) than the reads it saves. A bigger
// page cache is left out for the same reason: each connection discards it on
// seeing another's commit, so it would cost memory and save little.
func sqliteDSN(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("store: SQLite needs a data directory")
	}
	if strings.ContainsAny(dir, "?#") {
		return "", fmt.Errorf("store: data directory %q: '?' and '#' are not allowed in its path", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("store: creating data directory: %w", err)
	}
	// Created here with mode 0600, since SQLite would create it 0644 (less
	// the umask); its -wal and -shm files take the database file's mode.
	path := filepath.Join(dir, DatabaseFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("store: creating the database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("store: creating the database file: %w", err)
	}
	return path +
		"?_txlock=immediate" +
		"&_pragma=busy_timeout(" + strconv.Itoa(sqliteBusyTimeout) + ")" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=temp_store(MEMORY)" +
		"&_pragma=wal_autocheckpoint(0)", nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.stopCheckpoints != nil {
		close(s.stopCheckpoints)
		<-s.checkpointsDone
		close(s.stopCommits)
		<-s.commitsDone
	}
	s.stmtMu.Lock()
	var errs []error
	for q, st := range s.stmts {
		errs = append(errs, st.Close())
		delete(s.stmts, q)
	}
	s.stmtMu.Unlock()
	return errors.Join(append(errs, s.db.Close())...)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: %s unreachable: %w", s.dialect, err)
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Queries are written once with ? placeholders; these helpers rebind them for
// the dialect.

// On SQLite they run the query as a statement prepared once (see
// Store.stmts); a query that cannot be prepared runs as given, so that its
// error comes back where the caller looks for it.

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	if st := s.prepared(ctx, q, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.ExecContext(ctx, s.rebind(query), args...)
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	if st := s.prepared(ctx, q, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.QueryContext(ctx, s.rebind(query), args...)
}

func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	if st := s.prepared(ctx, q, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.QueryRowContext(ctx, s.rebind(query), args...)
}

// prepared returns query prepared for q (the database or one of its
// transactions), or nil when statements are not cached (PostgreSQL) or query
// is not prepared yet. Statements of a transaction are closed with it; the
// cached ones live until Close.
func (s *Store) prepared(ctx context.Context, q querier, query string) *sql.Stmt {
	if s.stmts == nil {
		return nil
	}
	s.stmtMu.Lock()
	st := s.stmts[query]
	if st == nil {
		if _, ok := q.(*sql.Tx); ok {
			// Preparing on the database needs a second connection, which
			// a pool of one would never give while the transaction holds
			// its only one: inTx prepares it once the transaction is over.
			s.pending[query] = struct{}{}
			s.stmtMu.Unlock()
			return nil
		}
	}
	s.stmtMu.Unlock()
	if st == nil {
		if st = s.prepare(ctx, query); st == nil {
			return nil
		}
	}
	if tx, ok := q.(*sql.Tx); ok {
		// Reuses the statement already prepared on the transaction's
		// connection, or prepares it there.
		return tx.StmtContext(ctx, st)
	}
	return st
}

// prepare prepares query on the database and caches it, or returns nil when
// it cannot be prepared (the caller then runs it as given, and gets its error
// where it looks for it). Two callers racing prepare it twice and keep one.
func (s *Store) prepare(ctx context.Context, query string) *sql.Stmt {
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if prev := s.stmts[query]; prev != nil {
		st.Close()
		return prev
	}
	s.stmts[query] = st
	return st
}

// preparePending prepares the queries transactions ran unprepared.
func (s *Store) preparePending(ctx context.Context) {
	if s.stmts == nil {
		return
	}
	s.stmtMu.Lock()
	var queries []string
	for q := range s.pending {
		queries = append(queries, q)
		delete(s.pending, q)
	}
	s.stmtMu.Unlock()
	for _, q := range queries {
		s.prepare(ctx, q)
	}
}

// writeDB runs one writing statement. On SQLite it joins the committer's
// batches like any write transaction, so that all of this process's writes
// queue in one place; on PostgreSQL it runs on its own.
func (s *Store) writeDB(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if s.txQueue == nil {
		return fn(ctx, s.db)
	}
	return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return fn(ctx, tx) })
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, …. Queries here never
// hold a ? inside a string literal.
func (s *Store) rebind(query string) string {
	if s.dialect != DialectPostgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// forUpdate locks the selected row until the transaction ends on PostgreSQL.
// SQLite needs nothing: its write transactions begin IMMEDIATE, so only one
// runs at a time.
func (s *Store) forUpdate() string {
	if s.dialect == DialectPostgres {
		return " FOR UPDATE"
	}
	return ""
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
	// Deferred first, so it runs after the connection is back in the pool.
	defer s.preparePending(ctx)
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
			s.checkpointLog()
			continue
		case <-s.stopCommits:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.txQueue:
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.commitBatch(batch)
	}
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

// micros is how every time is stored: unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros returns a stored time in UTC.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// isForeignKeyViolation reports whether err is a broken foreign key, such as a
// row naming a manufacturer that does not exist.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
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
