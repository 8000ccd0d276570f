package server

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/callout/callout/config"
	"github.com/callout/callout/secret"
)

// blockingPruner is a real store whose delivery pruning, once entered, waits
// until its context ends and then finishes its work on the store: a prune in
// the middle of a long delete at shutdown.
type blockingPruner struct {
	pruner
	entered chan struct{}
	// closeReturned is closed by the test when Close has returned.
	closeReturned chan struct{}
	// result reports how the prune ended.
	result chan error
}

func (p *blockingPruner) PruneDeliveries(ctx context.Context, before time.Time, batch int) (int64, error) {
	close(p.entered)
	select {
	case <-ctx.Done():
	case <-p.closeReturned:
		p.result <- errors.New("Close returned while the pruner was mid-prune")
		return 0, ctx.Err()
	}
	// The delete under way finishes on the store, whatever ctx says.
	n, err := p.pruner.PruneDeliveries(context.WithoutCancel(ctx), before, batch)
	p.result <- err
	return n, err
}

func TestCloseWaitsForPruner(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	secrets := &config.Secrets{JWTSecret: []byte("0123456789abcdef0123456789abcdef"), SecretKey: key}
	a, err := New(context.Background(), cfg, secrets, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	p := &blockingPruner{pruner: a.pruner, entered: make(chan struct{}), closeReturned: make(chan struct{}), result: make(chan error, 1)}
	a.pruner = p

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	<-p.entered
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	close(p.closeReturned)
	if err := <-p.result; err != nil {
		t.Errorf("the prune under way at Close: %v, want it finished on the open store before Close returned", err)
	}
}
