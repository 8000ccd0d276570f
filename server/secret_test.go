package server_test

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/callout/callout/config"
	"github.com/callout/callout/server"
)

// TestNewRefusesAWeakJWTSecret: a JWT secret anyone could guess stops the
// server before it opens anything, with a message saying how to make one.
func TestNewRefusesAWeakJWTSecret(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	secrets := &config.Secrets{JWTSecret: bytes.Repeat([]byte("a"), 32), SecretKey: make([]byte, 32)}

	srv, err := server.New(t.Context(), cfg, secrets, slog.New(slog.DiscardHandler), "test")
	if err == nil {
		srv.Close()
		t.Fatal("New with a JWT secret of 32 × 'a' succeeded, want an error")
	}
	if got := err.Error(); !strings.HasPrefix(got, "CALLOUT_JWT_SECRET: ") || !strings.Contains(got, "head -c32 /dev/urandom | base64") {
		t.Errorf("got %q, want a CALLOUT_JWT_SECRET error saying how to generate a secret", got)
	}
	if entries, _ := os.ReadDir(cfg.DataDir); len(entries) != 0 {
		t.Errorf("got %d files in the data directory, want none", len(entries))
	}
}
