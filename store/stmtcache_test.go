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
			if c, ok := dc.(*cachingConn); ok {
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
