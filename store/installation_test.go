package store

import (
	"bytes"
	"sync"
	"testing"
)

// testInstallation checks that the installation value is made once per
// database, kept by every later open and shared by concurrent first starts,
// and differs between two databases.
func testInstallation(t *testing.T, open opener) {
	e := newEnv(t, open)
	if len(e.Applied()) == 0 {
		t.Error("Applied of a new database names no migration")
	}
	first, err := e.Installation(e.ctx)
	if err != nil {
		t.Fatalf("Installation: %v", err)
	}
	if len(first) != installationBytes {
		t.Errorf("got %d bytes, want %d", len(first), installationBytes)
	}
	again := e.another(t)
	if applied := again.Applied(); len(applied) != 0 {
		t.Errorf("Applied of an up-to-date database = %q, want none", applied)
	}
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Go(func() {
			v, err := again.Installation(e.ctx)
			if err != nil {
				t.Errorf("Installation: %v", err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i, v := range got {
		if !bytes.Equal(v, first) {
			t.Errorf("call %d on a second open: got %x, want the first %x", i, v, first)
		}
	}

	other := newEnv(t, open)
	v, err := other.Installation(other.ctx)
	if err != nil {
		t.Fatalf("Installation of another database: %v", err)
	}
	if bytes.Equal(v, first) {
		t.Error("two databases share one installation value")
	}
}
