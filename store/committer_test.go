package store

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
	"testing"
	"weak"

	"golang.org/x/sync/errgroup"
)

// TestSQLiteCommitterForgetsWrites checks that once a batch of large writes
// has committed, the committer keeps none of them, nor the documents they
// wrote: a few large job PUTs must not hold their documents in memory until
// a wider batch happens to overwrite them.
func TestSQLiteCommitterForgetsWrites(t *testing.T) {
	s := openSQLite(t, &Options{Sealer: newBox(t)})
	const rounds, writers, size = 20, 8, 1 << 20
	for range rounds {
		docs, widest := writeBatch(t, s, writers, size)
		if widest < 2 {
			continue // the writers did not queue in time: nothing was batched
		}
		alive := func() (n int) {
			for _, p := range docs {
				if p.Value() != nil {
					n++
				}
			}
			return n
		}
		// A document freed by one cycle may still be marked by it; a few
		// cycles settle it.
		for i := 0; i < 10 && alive() > 0; i++ {
			runtime.GC()
		}
		if n := alive(); n > 0 {
			t.Errorf("%d of %d documents written in a batch of %d are still reachable after it committed", n, writers, widest)
		}
		return
	}
	t.Fatalf("no two of %d writers shared a batch in %d rounds", writers, rounds)
}

// writeBatch holds the committer on one write while writers more, of size
// bytes each, queue behind it, so that they commit in as few batches as
// possible. It returns weak pointers to their documents and the widest batch.
func writeBatch(t *testing.T, s *Store, writers, size int) (docs []weak.Pointer[byte], widest int) {
	t.Helper()
	ctx := context.Background()
	held, release := make(chan struct{}), make(chan struct{})
	var g errgroup.Group
	g.Go(func() error {
		return s.inTx(ctx, func(context.Context, *sql.Tx) error {
			close(held)
			<-release
			return nil
		})
	})
	<-held

	var (
		mu      sync.Mutex
		batches = map[*sql.Tx]int{} // writes per transaction
		started sync.WaitGroup
	)
	docs = make([]weak.Pointer[byte], writers)
	for i := range writers {
		started.Add(1)
		g.Go(func() error {
			doc := make([]byte, size)
			docs[i] = weak.Make(&doc[0])
			started.Done()
			return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				mu.Lock()
				batches[tx]++
				mu.Unlock()
				_, err := s.exec(ctx, tx, `SELECT length(?)`, doc)
				return err
			})
		})
	}
	started.Wait()
	close(release)
	if err := g.Wait(); err != nil {
		t.Fatalf("writing: %v", err)
	}
	for _, n := range batches {
		widest = max(widest, n)
	}
	return docs, widest
}
