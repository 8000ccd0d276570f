package store

import (
	"context"
	"time"
)

// checkpointInterval is how often the SQLite checkpointer copies the
// write-ahead log back into the database.
const checkpointInterval = time.Second

// checkpoint copies the write-ahead log into the database every interval,
// off the request path. SQLite's automatic checkpoint would otherwise run
// inside whichever commit crosses 1,000 log pages, adding its writes and
// fsyncs to that one request's latency.
//
// Each round has two steps. A PASSIVE checkpoint, which takes no write lock,
// copies the bulk of the log while writers go on. But under a steady stream
// of writes that alone never lets the log restart: SQLite rewinds it only
// when a write begins with every frame already copied, and commits land
// while the checkpoint runs. The log would then grow for as long as the
// writes go on (at 500 prices a second, by 16 MB a second). So the committer
// then copies the few frames written meanwhile, between two of its batches,
// when nothing can be written (at 500 prices a second, 3 to 6 ms without
// commits, once a second); its next commit rewinds the log.
func (s *Store) checkpoint() {
	defer close(s.checkpointsDone)
	t := time.NewTicker(s.checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopCheckpoints:
			return
		case <-t.C:
		}
		s.checkpointLog()
		select {
		case s.catchUp <- struct{}{}:
		default: // the committer has not taken the last one yet
		}
	}
}

// checkpointLog copies the write-ahead log into the database as far as
// readers allow. It takes no write lock.
func (s *Store) checkpointLog() {
	if _, err := s.db.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		s.logger.Warn("store: checkpointing the SQLite log", "error", err)
	}
}

// catchUpLog copies the frames written since checkpointLog began while no
// connection may write: it holds the connections' turn to write, which
// River's writes around the committer take too. Without it the log never
// restarted under the events benchmark's load, and grew past 1 GB in a
// minute. The connection is taken first, as every writer takes its own
// before its turn, so that the turn is never held waiting for one.
func (s *Store) catchUpLog() {
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		s.logger.Warn("store: checkpointing the SQLite log", "error", err)
		return
	}
	defer conn.Close()
	s.writing <- struct{}{}
	defer func() { <-s.writing }()
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		s.logger.Warn("store: checkpointing the SQLite log", "error", err)
	}
}
