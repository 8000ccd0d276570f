package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/callout/callout"
)

// TestConsoleLink checks the console-link command: one link per call, for a
// platform operator or a manufacturer that exists, on the address given.
func TestConsoleLink(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	link := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"console-link", "--dev", "--data-dir", dir}, args...), nil, &out, &out)
		return strings.TrimSpace(out.String()), err
	}
	got, err := link("--platform", "--url", "https://callout.example.com/")
	if err != nil {
		t.Fatalf("console-link --platform: %v", err)
	}
	if !strings.HasPrefix(got, "https://callout.example.com/console/sign-in?token=") {
		t.Errorf("console-link --platform printed %q, want https://callout.example.com/console/sign-in?token=…", got)
	}
	if again, _ := link("--platform"); !strings.HasPrefix(again, "http://127.0.0.1:8080/console/sign-in?token=") || again[len(again)-26:] == got[len(got)-26:] {
		t.Errorf("a second link %q: want a new token on the listen address", again)
	}
	if _, err := link("--manufacturer", "103"); callout.ErrorCode(err) != callout.ECodeNotFound {
		t.Errorf("console-link for a manufacturer that does not exist: %v, want not_found", err)
	}
	for _, args := range [][]string{{}, {"--platform", "--manufacturer", "103"}} {
		if _, err := link(args...); err == nil || !strings.Contains(err.Error(), "one of --manufacturer") {
			t.Errorf("console-link %q: error %v, want one asking for one of --manufacturer or --platform", args, err)
		}
	}
}
