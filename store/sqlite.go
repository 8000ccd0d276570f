package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteBusyTimeout is how long a SQLite writer waits for the lock before it
// fails with SQLITE_BUSY, in milliseconds.
const sqliteBusyTimeout = 10000

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
	path := filepath.Join(dir, DatabaseFile)
	if err := checkNotEmptied(dir, path); err != nil {
		return "", err
	}
	// Created here with mode 0600, since SQLite would create it 0644 (less
	// the umask); its -wal and -shm files take the database file's mode.
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

// ErrDamaged reports a SQLite database file that cannot be trusted: it fails
// SQLite's integrity check, or it is empty where a database was before.
// Open refuses it rather than serving errors or starting afresh.
var ErrDamaged = errors.New("the database file is damaged")

// quickCheckTimeout bounds the integrity check at Open: a database too large
// to check in that time is opened unchecked rather than not at all.
const quickCheckTimeout = 10 * time.Second

// damaged is the error of a damaged database file at path.
func damaged(path, detail string) error {
	return fmt.Errorf("store: %s: %w (%s); restore it from a backup", path, ErrDamaged, detail)
}

// checkNotEmptied refuses an empty database file in a directory that holds
// anything else, such as the generated key files or the write-ahead log:
// SQLite would take the empty file for a new database and start afresh,
// losing every record without a word. A new database is empty only from
// its creation in sqliteDSN to the first connection, which writes its first
// page.
func checkNotEmptied(dir, path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if info.Size() > 0 {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var others []string
	for _, e := range entries {
		if e.Name() != DatabaseFile {
			others = append(others, e.Name())
		}
	}
	if len(others) == 0 {
		return nil
	}
	return damaged(path, fmt.Sprintf("it is empty, but the directory holds %s from an earlier run", strings.Join(others, ", ")))
}

// quickCheck runs SQLite's quick_check on the database at path, and refuses
// a damaged one. It gives up, with a warning, after timeout.
func (s *Store) quickCheck(ctx context.Context, path string, timeout time.Duration) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	problems, err := quickCheckProblems(cctx, s.db)
	if detail, ok := damage(err); ok {
		return damaged(path, detail)
	}
	switch {
	case err != nil && ctx.Err() == nil && cctx.Err() != nil:
		s.logger.Warn("store: the SQLite integrity check did not finish in time; the database is opened unchecked", "file", path, "timeout", timeout.String())
		return nil
	case err != nil:
		return fmt.Errorf("store: checking %s: %w", path, err)
	case len(problems) > 1:
		return damaged(path, fmt.Sprintf("%s, and %d more problems", problems[0], len(problems)-1))
	case len(problems) == 1:
		return damaged(path, problems[0])
	}
	return nil
}

// quickCheckProblems returns what PRAGMA quick_check finds wrong, one problem
// a line; none when it answers "ok".
func quickCheckProblems(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		for _, p := range strings.Split(line, "\n") {
			if p != "ok" && !strings.HasPrefix(p, "*** ") { // "*** in database main ***"
				problems = append(problems, p)
			}
		}
	}
	return problems, rows.Err()
}

// damage reports whether err is SQLite finding its file malformed or not a
// database at all, and returns SQLite's own words.
func damage(err error) (string, bool) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return "", false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return e.Error(), true
	}
	return "", false
}
