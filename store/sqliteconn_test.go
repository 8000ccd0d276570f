package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestSQLiteStatementCache: queries run as text (as River's are) are
// prepared once per connection, at most stmtCacheSize of them kept; the same
// query run again while its first rows are still open gets its own rows; a
// bad query gets its error.
func TestSQLiteStatementCache(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: filepath.Join(t.TempDir(), "data"), Sealer: newBox(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cached := func() int {
		t.Helper()
		n := -1
		if err := conn.Raw(func(dc any) error {
			if c, ok := dc.(*sqliteConn); ok {
				n = len(c.stmts)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := cached()
	if before < 0 {
		t.Fatal("the SQLite connection does not cache statements")
	}

	const q = `SELECT x FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3) WHERE x >= ? ORDER BY x`
	values := func(rows *sql.Rows) []int {
		t.Helper()
		var out []int
		for rows.Next() {
			var x int
			if err := rows.Scan(&x); err != nil {
				t.Fatal(err)
			}
			out = append(out, x)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := tx.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var x int
		if err := outer.Scan(&x); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.QueryContext(ctx, q, x+1)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(x, values(inner)))
		inner.Close()
	}
	outer.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if want := "1 [2 3]|2 [3]|3 []"; strings.Join(got, "|") != want {
		t.Errorf("nested queries of one text: got %q, want %q", strings.Join(got, "|"), want)
	}
	if n := cached(); n != before+1 {
		t.Errorf("after one query text run four times: %d statements kept, want %d", n, before+1)
	}
	rows, err := conn.QueryContext(ctx, q, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := values(rows); fmt.Sprint(got) != "[3]" {
		t.Errorf("the cached statement again: got %v, want [3]", got)
	}
	rows.Close()

	for i := range stmtCacheSize + 10 {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SELECT %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := cached(); n != stmtCacheSize {
		t.Errorf("after %d query texts: %d statements kept, want %d", stmtCacheSize+10, n, stmtCacheSize)
	}
	if _, err := conn.ExecContext(ctx, "SELEKT 1"); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("a bad query: got %v, want SQLite's syntax error", err)
	}
}

// TestSQLiteWritesTakeTurns: a write transaction holds the turn to write
// from its begin to its end, a writing query outside one until its rows
// are closed, and a read does not take it: River's writes queue behind the
// committer's in Go, not in SQLite's sleeping busy handler.
func TestSQLiteWritesTakeTurns(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: filepath.Join(t.TempDir(), "data"), Sealer: newBox(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var writing chan struct{}
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error { writing = dc.(*sqliteConn).writing; return nil }); err != nil {
		t.Fatal(err)
	}
	held := func(when string, want bool) {
		t.Helper()
		if got := len(writing) == 1; got != want {
			t.Errorf("%s: turn to write held %v, want %v", when, got, want)
		}
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE turns (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	held("after a statement", false)
	for _, end := range []string{"commit", "rollback"} {
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		held("in a transaction", true)
		if _, err := tx.ExecContext(ctx, `INSERT INTO turns VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		if end == "commit" {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
		held("after "+end, false)
	}
	rows, err := conn.QueryContext(ctx, "-- name: Bump :many\nUPDATE turns SET n = n + 1 RETURNING n")
	if err != nil {
		t.Fatal(err)
	}
	held("with an UPDATE … RETURNING's rows open", true)
	rows.Close()
	held("once they are closed", false)
	rows, err = conn.QueryContext(ctx, "/* reads */ SELECT n FROM turns")
	if err != nil {
		t.Fatal(err)
	}
	held("with a SELECT's rows open", false)
	rows.Close()

	for q, want := range map[string]bool{
		"SELECT 1": false, "  select\n1": false, "PRAGMA wal_checkpoint(PASSIVE)": false,
		"-- name: JobGetAvailable :many\nUPDATE river_job SET x = 1": true,
		"/* TEMPLATE */ INSERT INTO t VALUES (1)":                    true,
		"WITH x AS (SELECT 1) UPDATE t SET n = 1":                    true,
		"DELETE FROM t": true, "SELECTED": true,
	} {
		if got := writes(q); got != want {
			t.Errorf("writes(%q) = %v, want %v", q, got, want)
		}
	}
}
