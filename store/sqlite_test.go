package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/clocktest"
)

// TestSQLiteSecretsAtRest reads every file of the data directory, database,
// WAL and shared memory, and looks for the webhook's secrets in clear.
func TestSQLiteSecretsAtRest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	box := newBox(t)
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: dir, Sealer: box})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, _, err := s.PutManufacturer(ctx, "103", "Example"); err != nil {
		t.Fatal(err)
	}
	w := fullWebhook("103", callout.KindSubmission)
	w.Auth.BearerToken = "tok_" + randomHex(t, 16)
	w.Auth.Auth0.ClientSecret = "cs_" + randomHex(t, 16)
	if err := s.PutWebhook(ctx, w); err != nil {
		t.Fatalf("PutWebhook: %v", err)
	}
	secrets := []string{w.Auth.BearerToken, w.Auth.Auth0.ClientSecret, w.SigningSecret}
	check := func(when string) {
		t.Helper()
		files := 0
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			for i, secret := range secrets {
				if bytes.Contains(data, []byte(secret)) {
					t.Errorf("%s: %s holds secret #%d in clear", when, d.Name(), i)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if files == 0 {
			t.Fatalf("%s: no files in the data directory", when)
		}
	}
	check("while open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("after close")

	// The same key opens them again after a restart.
	s, err = Open(ctx, Options{DataDir: dir, Sealer: box})
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer s.Close()
	got, err := s.GetWebhook(ctx, "103", callout.KindSubmission)
	if err != nil {
		t.Fatalf("GetWebhook after reopening: %v", err)
	}
	if got.Auth.BearerToken != w.Auth.BearerToken || got.Auth.Auth0.ClientSecret != w.Auth.Auth0.ClientSecret || got.SigningSecret != w.SigningSecret {
		t.Errorf("secrets after reopening differ from those stored")
	}

	// Another key does not, and says which webhook failed.
	other, err := Open(ctx, Options{DataDir: dir, Sealer: newBox(t)})
	if err != nil {
		t.Fatalf("opening with another key: %v", err)
	}
	defer other.Close()
	_, err = other.GetWebhook(ctx, "103", callout.KindSubmission)
	if err == nil || !strings.Contains(err.Error(), "submission webhook of manufacturer 103") {
		t.Errorf("GetWebhook with another key: error %v, want one naming the webhook", err)
	}
}

func TestSQLiteDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s, err := Open(context.Background(), Options{DataDir: dir, Sealer: newBox(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %o, want 700", perm)
	}
	// The database holds customers' documents: only Callout's user may read
	// it, and SQLite gives its log files the database file's mode.
	if _, _, err := s.PutManufacturer(context.Background(), "103", "Example"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{DatabaseFile, DatabaseFile + "-wal", DatabaseFile + "-shm"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode = %o, want 600", name, perm)
		}
	}
	if got := s.Dialect(); got != DialectSQLite {
		t.Errorf("Dialect() = %q, want %q", got, DialectSQLite)
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"no sealer", Options{DataDir: t.TempDir()}},
		{"no data directory", Options{Sealer: newBox(t)}},
		{"unsupported URL", Options{URL: "mysql://user:hunter2@db.example.com/callout", Sealer: newBox(t)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.o)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the URL's password")
			}
		})
	}
}

// TestSQLiteConcurrentWriters runs writers on many connections of two Stores
// (two processes, in effect) on one database at once: writers of one Store
// queue in Go, the two Stores meet on SQLite's busy timeout, and none may fail
// with SQLITE_BUSY.
func TestSQLiteConcurrentWriters(t *testing.T) {
	// A pool of one connection must not deadlock while a transaction holds
	// it; 8 is the default pool.
	for _, conns := range []int{1, 8} {
		t.Run(fmt.Sprintf("conns=%d", conns), func(t *testing.T) { testSQLiteConcurrentWriters(t, conns) })
	}
}

func testSQLiteConcurrentWriters(t *testing.T, conns int) {
	c := clocktest.New(start)
	o := Options{Sealer: newBox(t), Now: c.Now, MaxOpenConns: conns}
	stores := []*Store{openSQLite(t, &o), nil}
	stores[1] = openSQLite(t, &o) // the same data directory: Open set o.DataDir
	s := stores[0]
	ctx := context.Background()
	if _, _, err := s.PutManufacturer(ctx, "103", "Example"); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	var g errgroup.Group
	for w := range writers {
		g.Go(func() error {
			s := stores[w%2]
			cust := &callout.Customer{ManufacturerID: "103", ID: fmt.Sprintf("c%d", w), Document: json.RawMessage(`{}`)}
			job := &callout.Job{ManufacturerID: "103", ID: fmt.Sprintf("j%d", w), CustomerID: cust.ID, Document: json.RawMessage(`{}`)}
			if err := s.PutJob(ctx, job, cust); err != nil {
				return err
			}
			for i := range each {
				d := delivery("103", fmt.Sprintf("w%d-%d", w, i), start.Add(time.Duration(i)*time.Millisecond))
				if err := s.InsertDelivery(ctx, d); err != nil {
					return err
				}
				if err := s.SavePricing(ctx, "103", job.ID, &callout.Pricing{Cost: json.Number(fmt.Sprint(i)), Revision: 1}, nil); err != nil {
					return err
				}
				if _, _, err := s.ListDeliveries(ctx, callout.DeliveryFilter{ManufacturerID: "103", Limit: 5}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// A deadlock fails the test instead of hanging it: a queued write waits
	// for its commit whatever its context says.
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("concurrent writer: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the writers did not finish within a minute: deadlocked")
	}
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM deliveries`).Scan(&n); err != nil || n != writers*each {
		t.Errorf("deliveries = %d, %v; want %d", n, err, writers*each)
	}
}

// TestSQLiteLogRestarts writes a steady stream over
// many checkpoint intervals, through the committer and, as River does,
// around it, and checks that the write-ahead log went back to its start
// (SQLite counts each restart in the log's header) instead of growing for
// as long as the writes go on.
func TestSQLiteLogRestarts(t *testing.T) {
	const interval = 10 * time.Millisecond
	o := Options{Sealer: newBox(t), CheckpointInterval: interval}
	s := openSQLite(t, &o)
	ctx := context.Background()
	if _, _, err := s.PutManufacturer(ctx, "103", "Example"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE around (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	const intervals = 100
	stop := time.Now().Add(intervals * interval)
	var g errgroup.Group
	g.Go(func() error {
		for i := 0; time.Now().Before(stop); i++ {
			if _, err := s.db.ExecContext(ctx, `INSERT INTO around VALUES (?)`, i); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	for w := range 2 {
		g.Go(func() error {
			for i := 0; time.Now().Before(stop); i++ {
				d := delivery("103", fmt.Sprintf("w%d-%d", w, i), start.Add(time.Duration(i)*time.Millisecond))
				if err := s.InsertDelivery(ctx, d); err != nil {
					return err
				}
				time.Sleep(time.Millisecond)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	header := make([]byte, 32)
	f, err := os.Open(filepath.Join(o.DataDir, DatabaseFile+"-wal"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, header); err != nil {
		t.Fatalf("reading the log's header: %v", err)
	}
	// Bytes 12 to 15 of the header: the checkpoint sequence number, which
	// each restart of the log increments.
	restarts := binary.BigEndian.Uint32(header[12:16])
	// Without the committer's catch-up, at most a stray round restarts it.
	if restarts < intervals/10 {
		t.Errorf("the log restarted %d times in %d checkpoint intervals of writes; want at least %d", restarts, intervals, intervals/10)
	}
}
