package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuUse is the CPU time a process spent over one phase, and per request
// answered in it.
type cpuUse struct {
	Total      time.Duration `json:"total_ns"`
	PerRequest time.Duration `json:"per_request_ns"`
}

// cpuMeter measures the CPU time of one process of the benchmark, and, for
// Callout on PostgreSQL, of the PostgreSQL backends serving it (the time a
// price costs in the database, which the process's own CPU leaves out) and
// the database's commits and WAL flushes.
type cpuMeter struct {
	pid int
	// db lists the backends whose application_name is application; nil
	// without PostgreSQL.
	db          *sql.DB
	application string
}

// databaseUse is what PostgreSQL spent on one phase, per request answered.
// The transaction and WAL counts are the database's and the server's: other
// clients of the same server add to them.
type databaseUse struct {
	// CPU is that of the backends serving Callout.
	CPU cpuUse `json:"cpu"`
	// Transactions counts the database's commits, read-only ones included.
	Transactions float64 `json:"transactions_per_request"`
	// WALSyncs counts the server's flushes of its write-ahead log to disk
	// (pg_stat_wal.wal_sync).
	WALSyncs float64 `json:"wal_syncs_per_request"`
}

// measure runs a phase, which returns how many requests it made, and returns
// the process's CPU use and, with PostgreSQL, the database's (nil without).
// A backend that exits during the phase is left out of it.
func (m *cpuMeter) measure(run func() int) (cpuUse, *databaseUse) {
	before := processCPU(m.pid)
	backendsBefore := m.backendCPU()
	var commits, syncs int64
	if m.db != nil {
		commits, syncs = m.counters()
	}
	n := run()
	use := perRequest(processCPU(m.pid)-before, n)
	if m.db == nil {
		return use, nil
	}
	var total time.Duration
	for pid, t := range m.backendCPU() {
		total += t - backendsBefore[pid]
	}
	commitsAfter, syncsAfter := m.counters()
	db := &databaseUse{CPU: perRequest(total, n)}
	if n > 0 {
		db.Transactions = float64(commitsAfter-commits) / float64(n)
		db.WALSyncs = float64(syncsAfter-syncs) / float64(n)
	}
	return use, db
}

// counters reads the database's commits and the server's WAL flushes so far.
func (m *cpuMeter) counters() (commits, walSyncs int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.db.QueryRowContext(ctx, `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
		(SELECT wal_sync FROM pg_stat_wal)`).Scan(&commits, &walSyncs)
	return commits, walSyncs
}

func perRequest(total time.Duration, n int) cpuUse {
	u := cpuUse{Total: total}
	if n > 0 {
		u.PerRequest = total / time.Duration(n)
	}
	return u
}

// backendCPU returns the CPU time of each of the meter's PostgreSQL backends
// (local ones: PostgreSQL must run on this machine).
func (m *cpuMeter) backendCPU() map[int]time.Duration {
	if m.db == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := m.db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, m.application)
	if err != nil {
		return nil
	}
	defer rows.Close()
	cpu := make(map[int]time.Duration)
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			cpu[pid] = processCPU(pid)
		}
	}
	return cpu
}

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// processCPU is the user and system CPU time of every thread of process pid
// so far, or 0 when it cannot be read (not Linux).
func processCPU(pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	t, _ := statCPU(string(stat))
	return t
}

// statCPU parses utime and stime, the 14th and 15th fields of a
// /proc/<pid>/stat, counted after the command name, which may hold spaces.
func statCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want 13 or more", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
