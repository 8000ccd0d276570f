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
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
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
// sharing one server. Both keep as many idle connections as they may open:
// under load, a pool that keeps fewer closes a connection each time one
// comes back beyond them, and opens a new one (a new PostgreSQL backend) for
// the next request. Idle ones are closed after DefaultConnMaxIdleTime.
const (
	DefaultSQLiteMaxOpenConns   = 8
	DefaultPostgresMaxOpenConns = 20
	DefaultConnMaxLifetime      = 30 * time.Minute
	DefaultConnMaxIdleTime      = 5 * time.Minute
)

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
	// applied names the migrations Open applied.
	applied []string

	// rebound caches rebind's PostgreSQL form of each query.
	rebound sync.Map
	// jobDocs holds the documents of the jobs priced (see GetPricingInputs).
	jobDocs docCache

	// stopCheckpoints ends the SQLite checkpointer; checkpointsDone closes
	// when it has.
	stopCheckpoints    chan struct{}
	checkpointsDone    chan struct{}
	checkpointInterval time.Duration
	// catchUp asks the committer to finish a checkpoint while no write
	// runs (see checkpoint).
	catchUp chan struct{}
	// writing is the SQLite connections' turn to write (see
	// sqliteConnector), which the catch-up holds: River writes around the
	// committer.
	writing chan struct{}

	// txQueue hands every write of this process to the SQLite committer
	// (nil on PostgreSQL), the one goroutine that writes. SQLite runs one
	// writer at a time; writers left to meet in its busy handler would wait
	// there polling by sleeps of 1 to 100 ms, most of their time asleep. The
	// busy timeout remains the guard against other processes. stopCommits
	// ends the committer and commitsDone closes when it has.
	txQueue     chan *txRequest
	stopCommits chan struct{}
	commitsDone chan struct{}

	// enqueuer schedules the delivery of event messages (see SetEnqueuer).
	enqueuer Enqueuer
	// asyncQueue hands the PostgreSQL writes committed asynchronously
	// (prices and deliveries, see asyncBatch) to writeAsync, which groups
	// them (nil on SQLite). stopAsync ends it and asyncDone closes when it
	// has.
	asyncQueue chan *asyncWrite
	stopAsync  chan struct{}
	asyncDone  chan struct{}
}

// Open opens the database o selects, checks that it answers, and applies
// pending migrations. A SQLite database file that fails SQLite's quick
// integrity check, or is empty where a database was before, is refused with
// ErrDamaged.
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
	var (
		err  error
		path string // of the SQLite database
	)
	switch {
	case strings.HasPrefix(o.URL, "postgres://"), strings.HasPrefix(o.URL, "postgresql://"):
		s.dialect = DialectPostgres
		s.db, err = sql.Open("pgx", o.URL)
		if err != nil {
			// pgx redacts the password from its parse errors.
			return nil, fmt.Errorf("store: opening PostgreSQL: %w", err)
		}
		n := cmp.Or(o.MaxOpenConns, DefaultPostgresMaxOpenConns)
		s.db.SetMaxOpenConns(n)
		s.db.SetMaxIdleConns(cmp.Or(o.MaxIdleConns, n))
		s.db.SetConnMaxLifetime(cmp.Or(o.ConnMaxLifetime, DefaultConnMaxLifetime))
		s.db.SetConnMaxIdleTime(DefaultConnMaxIdleTime)
	case o.URL != "":
		// The URL may hold a password: never repeat it.
		return nil, errors.New("store: the database URL must start with postgres:// or postgresql://, or be empty for SQLite")
	default:
		s.dialect = DialectSQLite
		path = filepath.Join(o.DataDir, DatabaseFile)
		dsn, err := sqliteDSN(o.DataDir)
		if err != nil {
			return nil, err
		}
		connector, err := sqlite.NewConnector(dsn)
		if err != nil {
			return nil, fmt.Errorf("store: opening SQLite: %w", err)
		}
		cc := newSQLiteConnector(connector)
		s.db, s.writing = sql.OpenDB(cc), cc.writing
		n := cmp.Or(o.MaxOpenConns, DefaultSQLiteMaxOpenConns)
		s.db.SetMaxOpenConns(n)
		s.db.SetMaxIdleConns(cmp.Or(o.MaxIdleConns, n))
		s.db.SetConnMaxLifetime(o.ConnMaxLifetime)
	}
	if err := s.Ping(ctx); err != nil {
		s.db.Close()
		if detail, ok := damage(err); ok {
			return nil, damaged(path, detail)
		}
		return nil, err
	}
	if s.dialect == DialectSQLite {
		if err := s.quickCheck(ctx, path, quickCheckTimeout); err != nil {
			s.db.Close()
			return nil, err
		}
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
	if s.dialect == DialectPostgres {
		s.asyncQueue, s.stopAsync, s.asyncDone = make(chan *asyncWrite), make(chan struct{}), make(chan struct{})
		go s.writeAsync()
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.stopCheckpoints != nil {
		close(s.stopCheckpoints)
		<-s.checkpointsDone
		close(s.stopCommits)
		<-s.commitsDone
	}
	if s.stopAsync != nil {
		close(s.stopAsync)
		<-s.asyncDone
	}
	return s.db.Close()
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
