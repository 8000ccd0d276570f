package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callout/callout"
)

// storedDatabase creates a SQLite database holding a few records in a new
// data directory, closes it, and returns the directory.
func storedDatabase(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: dir, Sealer: newBox(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, _, err := s.PutManufacturer(ctx, "103", "Example"); err != nil {
		t.Fatal(err)
	}
	c := &callout.Customer{ManufacturerID: "103", ID: "c1", Document: json.RawMessage(`{"id": "c1"}`)}
	doc := `{"id": "j1", "notes": "` + strings.Repeat("n", 64<<10) + `"}`
	if err := s.PutJob(ctx, &callout.Job{ManufacturerID: "103", ID: "j1", CustomerID: "c1", Document: json.RawMessage(doc)}, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// scribble overwrites the database file from byte offset from to its end
// with random bytes; a negative from counts from the end.
func scribble(t *testing.T, path string, from int64) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if from < 0 {
		from += info.Size()
	}
	if from < 0 || info.Size() <= from {
		t.Fatalf("%s is %d bytes long, want more than %d", path, info.Size(), from)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, info.Size()-from)
	rand.Read(junk)
	if _, err := f.WriteAt(junk, from); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesDamagedDatabase(t *testing.T) {
	const page = 4096
	tests := []struct {
		name   string
		damage func(t *testing.T, dir, path string)
	}{
		// SQLite notices these as soon as it reads the schema.
		{"random bytes in the first data pages", func(t *testing.T, dir, path string) {
			scribble(t, path, 4*page)
		}},
		// Only the integrity check notices these before a read fails.
		{"random bytes in the last data pages", func(t *testing.T, dir, path string) {
			scribble(t, path, -2*page)
		}},
		{"random bytes in the header", func(t *testing.T, dir, path string) {
			scribble(t, path, 0)
		}},
		{"emptied beside the key files", func(t *testing.T, dir, path string) {
			for _, name := range []string{"secret.key", "jwt_secret"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("key"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"emptied beside its log", func(t *testing.T, dir, path string) {
			if err := os.WriteFile(path+"-wal", nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := storedDatabase(t)
			path := filepath.Join(dir, DatabaseFile)
			tt.damage(t, dir, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			s, err := Open(context.Background(), Options{DataDir: dir, Sealer: newBox(t)})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want ErrDamaged")
			}
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("Open: %v, want ErrDamaged", err)
			}
			for _, want := range []string{path, "restore it from a backup"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open: %v, want it to say %q", err, want)
				}
			}
			if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
				t.Errorf("the damaged file changed (%v): Open must leave it for inspection", err)
			}
		})
	}
}

// TestOpenEmptyDatabaseAlone checks that an empty database file with nothing
// beside it, as a deployment may create, is taken for a new database.
func TestOpenEmptyDatabaseAlone(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DatabaseFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Options{DataDir: dir, Sealer: newBox(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, _, err := s.PutManufacturer(context.Background(), "103", "Example"); err != nil {
		t.Errorf("PutManufacturer: %v", err)
	}
}

// TestQuickCheckGivesUp checks that a check which runs out of time opens the
// database unchecked, with a warning, rather than refusing it.
func TestQuickCheckGivesUp(t *testing.T) {
	var log bytes.Buffer
	s := openSQLite(t, &Options{Sealer: newBox(t), Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err := s.quickCheck(context.Background(), DatabaseFile, time.Nanosecond); err != nil {
		t.Errorf("quickCheck with a timeout of 1 ns: %v, want nil", err)
	}
	if !strings.Contains(log.String(), "integrity check did not finish") {
		t.Errorf("log = %q, want a warning that the check did not finish", log.String())
	}
}
