package store

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds the schema of each dialect, applied in order by goose.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Migrate applies every pending migration. It is idempotent, and on
// PostgreSQL several processes may run it at once: an advisory lock lets one
// migrate while the others wait.
func (s *Store) Migrate(ctx context.Context) error {
	dir, dialect := "migrations/sqlite", goose.DialectSQLite3
	if s.dialect == DialectPostgres {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(s.logger),
	}
	if s.dialect == DialectPostgres {
		id, err := s.migrationLockID(ctx)
		if err != nil {
			return err
		}
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	// p.Close would close s.db: the provider is simply dropped.
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrating %s: %w", s.dialect, err)
	}
	for _, r := range results {
		s.applied = append(s.applied, r.Source.Path)
	}
	return nil
}

// Applied names the migrations this Store applied when it was opened, in
// order; none when the schema was up to date.
func (s *Store) Applied() []string { return s.applied }

// migrationLockID derives the advisory lock from the database and schema
// being migrated, so that processes migrating other schemas of the same
// server (tests, other tenants) do not wait for each other.
func (s *Store) migrationLockID(ctx context.Context) (int64, error) {
	var database, schema string
	if err := s.db.QueryRowContext(ctx, `SELECT current_database(), COALESCE(current_schema(), '')`).Scan(&database, &schema); err != nil {
		return 0, fmt.Errorf("store: reading the current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("callout-migrations\x00" + database + "\x00" + schema))
	return int64(h.Sum64()), nil
}
