package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
