package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"time"
	"unicode"
)

// stmtCacheSize bounds the statements each SQLite connection keeps prepared.
const stmtCacheSize = 128

// sqliteConnector opens the store's SQLite connections. They keep the
// statements they run prepared, the store's and River's alike: database/sql
// and River's SQLite driver run each query as text, and SQLite parsed each
// anew (in a profile of the events benchmark, parsing River's job
// completion, insert and fetch took 40 % of the process's CPU).
//
// Its connections also take turns to write, in Go: a write transaction holds
// writing from its begin to its end, and a writing statement outside one
// while it runs. The store's own writes queue in its committer, but River's
// (fetches, completions, snoozes) went straight to SQLite and met the
// committer in SQLite's busy handler, which sleeps 1 to 100 ms between
// tries.
type sqliteConnector struct {
	driver.Connector
	// writing holds a token while a connection writes.
	writing chan struct{}
}

func newSQLiteConnector(c driver.Connector) sqliteConnector {
	return sqliteConnector{Connector: c, writing: make(chan struct{}, 1)}
}

func (c sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cc, ok := conn.(sqliteDriverConn)
	if !ok {
		return conn, nil
	}
	return &sqliteConn{sqliteDriverConn: cc, stmts: map[string]*list.Element{}, lru: list.New(), writing: c.writing}, nil
}

// sqliteDriverConn is what a connection must offer to be wrapped: modernc's
// does.
type sqliteDriverConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteConn runs ExecContext and QueryContext through statements it keeps
// prepared, the stmtCacheSize it used last, and takes its turn to write.
// database/sql uses a connection from one goroutine at a time, so it needs
// no lock.
type sqliteConn struct {
	sqliteDriverConn
	stmts   map[string]*list.Element // of *cachedStmt
	lru     *list.List
	writing chan struct{}
	inTx    bool
}

// writeTurnTimeout bounds the wait for a turn to write, as SQLite's busy
// timeout bounds the wait for its lock: past it the write goes on, to
// SQLite's busy handler.
const writeTurnTimeout = sqliteBusyTimeout * time.Millisecond

// turn waits for the connection's turn to write and returns what ends it.
func (c *sqliteConn) turn(ctx context.Context) (end func()) {
	t := time.NewTimer(writeTurnTimeout)
	defer t.Stop()
	select {
	case c.writing <- struct{}{}:
		return func() { <-c.writing }
	case <-t.C:
	case <-ctx.Done():
	}
	return func() {}
}

// writes reports whether a statement run outside a transaction may write:
// all but SELECT and PRAGMA, after any leading comments (River's queries
// begin with one).
func writes(query string) bool {
	q := strings.TrimSpace(query)
	for {
		switch {
		case strings.HasPrefix(q, "--"):
			_, rest, _ := strings.Cut(q, "\n")
			q = strings.TrimSpace(rest)
		case strings.HasPrefix(q, "/*"):
			_, rest, _ := strings.Cut(q, "*/")
			q = strings.TrimSpace(rest)
		default:
			word := q
			if i := strings.IndexFunc(q, unicode.IsSpace); i >= 0 {
				word = q[:i]
			}
			return !strings.EqualFold(word, "SELECT") && !strings.EqualFold(word, "PRAGMA")
		}
	}
}

// BeginTx begins a transaction that holds the turn to write until it ends:
// every transaction of the store's SQLite database writes (they begin
// IMMEDIATE).
func (c *sqliteConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	end := c.turn(ctx)
	tx, err := c.sqliteDriverConn.BeginTx(ctx, opts)
	if err != nil {
		end()
		return nil, err
	}
	c.inTx = true
	return &turnTx{Tx: tx, end: func() { c.inTx = false; end() }}, nil
}

// turnTx gives up the turn to write when it ends.
type turnTx struct {
	driver.Tx
	end func()
}

func (t *turnTx) Commit() error {
	defer t.end()
	return t.Tx.Commit()
}

func (t *turnTx) Rollback() error {
	defer t.end()
	return t.Tx.Rollback()
}

var (
	_ driver.ExecerContext  = (*sqliteConn)(nil)
	_ driver.QueryerContext = (*sqliteConn)(nil)
)

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	// busy is set while rows of the statement are open: a second query of
	// the same text on the connection (within a transaction, before the
	// first rows are closed) runs unprepared rather than reset them.
	busy bool
}

// cached returns the statement of query, preparing it, or nil when it is
// in use or cannot be prepared (the caller then runs query as given, and
// gets its error there).
func (c *sqliteConn) cached(ctx context.Context, query string) *cachedStmt {
	if e, ok := c.stmts[query]; ok {
		c.lru.MoveToFront(e)
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil
		}
		return cs
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.stmts[query] = c.lru.PushFront(cs)
	if c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		if o := old.Value.(*cachedStmt); !o.busy {
			c.lru.Remove(old)
			delete(c.stmts, o.query)
			o.stmt.Close()
		}
	}
	return cs
}

func (c *sqliteConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if !c.inTx && writes(query) {
		defer c.turn(ctx)()
	}
	cs := c.cached(ctx, query)
	if cs == nil {
		return c.sqliteDriverConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext runs query; one that writes outside a transaction (an
// UPDATE … RETURNING) holds the turn to write until its rows are closed.
func (c *sqliteConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	end := func() {}
	if !c.inTx && writes(query) {
		end = c.turn(ctx)
	}
	rows, cs, err := c.query(ctx, query, args)
	if err != nil {
		end()
		return nil, err
	}
	full, ok := rows.(typedRows)
	if !ok {
		// Not modernc's rows: the turn ends now rather than never.
		end()
		return rows, nil
	}
	return &cachedRows{typedRows: full, end: func() {
		if cs != nil {
			cs.busy = false
		}
		end()
	}}, nil
}

// query runs query through its cached statement, which it returns marked
// busy, or as given when there is none.
func (c *sqliteConn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, *cachedStmt, error) {
	cs := c.cached(ctx, query)
	if cs == nil {
		rows, err := c.sqliteDriverConn.QueryContext(ctx, query, args)
		return rows, nil, err
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, nil, err
	}
	cs.busy = true
	return rows, cs, nil
}

// Close closes the cached statements, then the connection.
func (c *sqliteConn) Close() error {
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, e.Value.(*cachedStmt).stmt.Close())
	}
	c.stmts, c.lru = nil, list.New()
	return errors.Join(append(errs, c.sqliteDriverConn.Close())...)
}

// typedRows is what modernc's rows offer, so that wrapping them hides
// nothing from database/sql.
type typedRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// cachedRows frees its statement for the next query, and ends its turn to
// write, when closed.
type cachedRows struct {
	typedRows
	end func()
}

func (r *cachedRows) Close() error {
	err := r.typedRows.Close()
	r.end()
	return err
}
