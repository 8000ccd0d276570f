package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
)

// stmtCacheSize bounds the statements each SQLite connection keeps prepared.
const stmtCacheSize = 128

// cachingConnector opens SQLite connections that keep the statements they
// run prepared. The store prepares its own queries once (see prepared), but
// River's SQLite driver runs each of its queries as text, and SQLite parsed
// each anew: in a profile of the events benchmark, parsing River's job
// completion, insert and fetch took 40 % of the process's CPU.
type cachingConnector struct {
	driver.Connector
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cc, ok := conn.(cachedConnBase)
	if !ok {
		return conn, nil
	}
	return &cachingConn{cachedConnBase: cc, stmts: map[string]*list.Element{}, lru: list.New()}, nil
}

// cachedConnBase is what a connection must offer to be wrapped: modernc's
// does.
type cachedConnBase interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn runs ExecContext and QueryContext through statements it keeps
// prepared, the stmtCacheSize it used last. database/sql uses a connection
// from one goroutine at a time, so it needs no lock.
type cachingConn struct {
	cachedConnBase
	stmts map[string]*list.Element // of *cachedStmt
	lru   *list.List
}

var (
	_ driver.ExecerContext  = (*cachingConn)(nil)
	_ driver.QueryerContext = (*cachingConn)(nil)
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
func (c *cachingConn) cached(ctx context.Context, query string) *cachedStmt {
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

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs := c.cached(ctx, query)
	if cs == nil {
		return c.cachedConnBase.ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs := c.cached(ctx, query)
	if cs == nil {
		return c.cachedConnBase.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	full, ok := rows.(typedRows)
	if !ok {
		rows.Close()
		return c.cachedConnBase.QueryContext(ctx, query, args)
	}
	cs.busy = true
	return &cachedRows{typedRows: full, stmt: cs}, nil
}

// Close closes the cached statements, then the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, e.Value.(*cachedStmt).stmt.Close())
	}
	c.stmts, c.lru = nil, list.New()
	return errors.Join(append(errs, c.cachedConnBase.Close())...)
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

// cachedRows frees its statement for the next query when closed.
type cachedRows struct {
	typedRows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	r.stmt.busy = false
	return r.typedRows.Close()
}
