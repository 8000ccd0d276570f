package store

import "time"

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
