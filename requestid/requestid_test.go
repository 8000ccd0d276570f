package requestid

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"abc-123_X.y:z", true},
		{"", false},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"has space", false},
		{"line\nbreak", false},
		{"quote\"", false},
	} {
		if got := Valid(tc.id); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	if id := New(); !Valid(id) || len(id) != 32 {
		t.Errorf("New() = %q, want 32 valid characters", id)
	}
}

func TestHandlerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test").WithGroup("g")
	log.InfoContext(With(context.Background(), "req-1"), "hello", "k", "v")
	log.InfoContext(context.Background(), "no id")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2", len(lines))
	}
	if !strings.Contains(lines[0], `"request_id":"req-1"`) {
		t.Errorf("line with context = %s, want request_id req-1", lines[0])
	}
	if strings.Contains(lines[1], "request_id") {
		t.Errorf("line without context = %s, want no request_id", lines[1])
	}
}
