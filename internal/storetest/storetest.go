// Package storetest opens real stores for the tests of packages that use
// one: a SQLite file in a temporary directory, and, when
// CALLOUT_TEST_DATABASE_URL is set, PostgreSQL in a schema of its own.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/callout/callout/secret"
	"github.com/callout/callout/store"
)

// Opened is a store and the URL another process would open it with ("" for
// SQLite, whose DataDir is then set).
type Opened struct {
	*store.Store
	URL     string
	DataDir string
}

// Dialects are the store dialects a test should run on: SQLite always,
// PostgreSQL when CALLOUT_TEST_DATABASE_URL is set.
func Dialects() []string {
	if os.Getenv("CALLOUT_TEST_DATABASE_URL") == "" {
		return []string{store.DialectSQLite}
	}
	return []string{store.DialectSQLite, store.DialectPostgres}
}

// Open opens a fresh, empty store of dialect, closed (and its schema
// dropped) when the test ends. o's Sealer is set when nil.
func Open(t *testing.T, dialect string, o store.Options) *Opened {
	t.Helper()
	ctx := context.Background()
	if o.Sealer == nil {
		key := make([]byte, secret.KeySize)
		rand.Read(key)
		box, err := secret.NewBox(key)
		if err != nil {
			t.Fatal(err)
		}
		o.Sealer = box
	}
	if dialect == store.DialectSQLite {
		o.DataDir = filepath.Join(t.TempDir(), "data")
	} else {
		o.URL = Schema(t)
	}
	s, err := store.Open(ctx, o)
	if err != nil {
		t.Fatalf("opening the %s store: %v", dialect, err)
	}
	t.Cleanup(func() { s.Close() })
	return &Opened{Store: s, URL: o.URL, DataDir: o.DataDir}
}

// Schema creates a PostgreSQL schema dropped when the test ends, and returns
// the URL that selects it.
func Schema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("CALLOUT_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("CALLOUT_TEST_DATABASE_URL is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("opening PostgreSQL: %v", err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal("CALLOUT_TEST_DATABASE_URL is not a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
