package store

import (
	"context"
	"database/sql"
)

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
