package store

import (
	"sync"
	"testing"
	"time"

	"github.com/callout/callout"
)

func testConsoleLinks(t *testing.T, open opener) {
	e := newEnv(t, open)
	now := e.clock.Now()
	if err := e.CreateConsoleLink(e.ctx, "h-103", "103", now.Add(10*time.Minute)); err != nil {
		t.Fatalf("CreateConsoleLink: %v", err)
	}
	if err := e.CreateConsoleLink(e.ctx, "h-platform", "", now.Add(10*time.Minute)); err != nil {
		t.Fatalf("CreateConsoleLink(platform): %v", err)
	}
	if err := e.CreateConsoleLink(e.ctx, "h-old", "103", now.Add(-time.Second)); err != nil {
		t.Fatalf("CreateConsoleLink(expired): %v", err)
	}

	got, err := e.UseConsoleLink(e.ctx, "h-103", now)
	if err != nil || got != "103" {
		t.Fatalf("UseConsoleLink = %q, %v, want 103", got, err)
	}
	if got, err := e.UseConsoleLink(e.ctx, "h-platform", now); err != nil || got != "" {
		t.Fatalf("UseConsoleLink(platform) = %q, %v, want \"\"", got, err)
	}
	for _, tt := range []struct {
		name, hash string
		at         time.Time
	}{
		{"second use", "h-103", now},
		{"expired", "h-old", now},
		{"unknown", "h-none", now},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.UseConsoleLink(e.ctx, tt.hash, tt.at)
			wantCode(t, err, callout.ECodeNotFound)
		})
	}

	// Of many concurrent uses of one link, exactly one signs in.
	if err := e.CreateConsoleLink(e.ctx, "h-race", "103", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range 8 {
		wg.Go(func() {
			if _, err := e.UseConsoleLink(e.ctx, "h-race", now); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent uses of one link succeeded, want 1", wins)
	}
}

func testConsoleSessions(t *testing.T, open opener) {
	e := newEnv(t, open)
	now := e.clock.Now()
	want := callout.ConsoleSession{ManufacturerID: "103", ExpiresAt: utc(now.Add(8 * time.Hour))}
	if err := e.CreateConsoleSession(e.ctx, "s-1", want); err != nil {
		t.Fatalf("CreateConsoleSession: %v", err)
	}
	got, err := e.GetConsoleSession(e.ctx, "s-1", now)
	if err != nil {
		t.Fatalf("GetConsoleSession: %v", err)
	}
	if *got != want {
		t.Errorf("GetConsoleSession = %+v, want %+v", *got, want)
	}
	_, err = e.GetConsoleSession(e.ctx, "s-1", now.Add(8*time.Hour))
	wantCode(t, err, callout.ECodeNotFound)
	_, err = e.GetConsoleSession(e.ctx, "s-2", now)
	wantCode(t, err, callout.ECodeNotFound)

	if err := e.DeleteConsoleSession(e.ctx, "s-1"); err != nil {
		t.Fatalf("DeleteConsoleSession: %v", err)
	}
	_, err = e.GetConsoleSession(e.ctx, "s-1", now)
	wantCode(t, err, callout.ECodeNotFound)
	if err := e.DeleteConsoleSession(e.ctx, "s-1"); err != nil {
		t.Fatalf("DeleteConsoleSession again: %v", err)
	}
}

func testPruneConsole(t *testing.T, open opener) {
	e := newEnv(t, open)
	now := e.clock.Now()
	for _, err := range []error{
		e.CreateConsoleLink(e.ctx, "old", "103", now.Add(-time.Hour)),
		e.CreateConsoleLink(e.ctx, "new", "103", now.Add(time.Hour)),
		e.CreateConsoleSession(e.ctx, "old", callout.ConsoleSession{ManufacturerID: "103", ExpiresAt: now.Add(-time.Hour)}),
		e.CreateConsoleSession(e.ctx, "new", callout.ConsoleSession{ManufacturerID: "103", ExpiresAt: now.Add(time.Hour)}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.PruneConsole(e.ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("PruneConsole = %d, %v, want 2", n, err)
	}
	if _, err := e.UseConsoleLink(e.ctx, "new", now); err != nil {
		t.Errorf("the link still valid was pruned: %v", err)
	}
	if _, err := e.GetConsoleSession(e.ctx, "new", now); err != nil {
		t.Errorf("the session still valid was pruned: %v", err)
	}
}
