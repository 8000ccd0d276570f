package store

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// rebind turns ? placeholders into PostgreSQL's $1, $2, …. Queries here never
// hold a ? inside a string literal. Each query is rebound once: the hot
// ones run on every price.
func (s *Store) rebind(query string) string {
	if s.dialect != DialectPostgres {
		return query
	}
	if q, ok := s.rebound.Load(query); ok {
		return q.(string)
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
	s.rebound.Store(query, b.String())
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
