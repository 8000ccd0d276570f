package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callout/callout/payload"
)

const ms = time.Millisecond

// durations returns 1ms, 2ms, …, n ms in a shuffled order.
func durations(n int) []time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = time.Duration((i*7)%n+1) * ms // 7 is prime to n below: a permutation
	}
	return d
}

func TestPercentile(t *testing.T) {
	sorted := []time.Duration{1 * ms, 2 * ms, 3 * ms, 4 * ms, 5 * ms, 6 * ms, 7 * ms, 8 * ms, 9 * ms, 10 * ms}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value", []time.Duration{3 * ms}, 0.99, 3 * ms},
		{"median of ten is the fifth", sorted, 0.50, 5 * ms},
		{"p90 of ten is the ninth", sorted, 0.90, 9 * ms},
		{"p99 of ten is the largest", sorted, 0.99, 10 * ms},
		{"p100 is the largest", sorted, 1, 10 * ms},
		{"a tiny quantile is the smallest", sorted, 0.001, 1 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name      string
		latencies []time.Duration
		errors    int
		want      Stats
	}{
		{"none", nil, 0, Stats{}},
		{"a thousand, shuffled", durations(1000), 3, Stats{
			Count: 1000, Errors: 3,
			Mean: 500500 * time.Microsecond, // (1+…+1000)/1000 ms
			P50:  500 * ms, P90: 900 * ms, P99: 990 * ms, Max: 1000 * ms,
		}},
		{"one outlier in a hundred shows only in the max", append(repeat(99, ms), 2*time.Second), 0, Stats{
			Count: 100, Mean: (99*ms + 2*time.Second) / 100,
			P50: ms, P90: ms, P99: ms, Max: 2 * time.Second,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, summarize(tt.latencies, tt.errors)); diff != "" {
				t.Errorf("summarize (-want +got):\n%s", diff)
			}
		})
	}
}

func repeat(n int, d time.Duration) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = d
	}
	return s
}

func TestStatsJSONInMicroseconds(t *testing.T) {
	data, err := json.Marshal(Stats{Count: 2, Errors: 1, P50: 1500 * time.Nanosecond, Max: 2 * ms})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"count": 2, "errors": 1, "mean_us": 0, "p50_us": 1.5, "p90_us": 0, "p99_us": 0, "max_us": 2000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

// fakeClock is an open loop's clock that never waits: SleepUntil moves the
// time forward, and stalls add a delay to the wake-up at given due times,
// like a descheduled generator or a GC pause.
type fakeClock struct {
	now    time.Time
	stalls map[time.Time]time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) SleepUntil(_ context.Context, t time.Time) {
	if t.After(c.now) {
		c.now = t
	}
	if d, ok := c.stalls[t]; ok {
		c.now = c.now.Add(d)
	}
}

// service is a fake send taking a fixed time from when it is sent.
type service struct {
	took time.Duration
	fail func(i int) bool

	mu   sync.Mutex
	sent map[int]time.Time
}

func (s *service) send(_ context.Context, i int, sent time.Time) (time.Time, error) {
	s.mu.Lock()
	s.sent[i] = sent
	s.mu.Unlock()
	if s.fail != nil && s.fail(i) {
		return sent.Add(s.took), errors.New("failed")
	}
	return sent.Add(s.took), nil
}

func TestOpenLoopSendsOnSchedule(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: start}
	svc := &service{took: ms, sent: map[int]time.Time{}, fail: func(i int) bool { return i%4 == 0 }}
	r := openLoop{rate: 500, duration: 2 * time.Second, clock: clock}.run(context.Background(), svc.send)

	if r.Due != 1000 || r.Sent != 1000 {
		t.Fatalf("due %d, sent %d, want 1000 of each (500/s for 2s)", r.Due, r.Sent)
	}
	if len(svc.sent) != 1000 {
		t.Fatalf("%d distinct requests sent, want 1000", len(svc.sent))
	}
	for i, at := range svc.sent {
		if want := start.Add(time.Duration(i) * 2 * ms); !at.Equal(want) {
			t.Fatalf("request %d sent at +%v, want +%v", i, at.Sub(start), want.Sub(start))
		}
	}
	want := Stats{Count: 1000, Errors: 250, Mean: ms, P50: ms, P90: ms, P99: ms, Max: ms}
	if diff := cmp.Diff(want, r.Latency); diff != "" {
		t.Errorf("latency (-want +got):\n%s", diff)
	}
	if r.Lag.Max != 0 {
		t.Errorf("generator lag max %v, want 0 on a clock that never oversleeps", r.Lag.Max)
	}
}

// TestOpenLoopCountsStallsFromDueTime checks the point of an open loop: when
// sending stalls, every request due during the stall has waited, and its
// latency must say so (no coordinated omission).
func TestOpenLoopCountsStallsFromDueTime(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Request 10 is due at +20ms; the generator wakes 100ms late, at
	// +120ms, so requests 10 to 59 (due +20ms to +118ms) all go at +120ms.
	clock := &fakeClock{now: start, stalls: map[time.Time]time.Duration{start.Add(20 * ms): 100 * ms}}
	svc := &service{took: ms, sent: map[int]time.Time{}}
	r := openLoop{rate: 500, duration: 2 * time.Second, clock: clock}.run(context.Background(), svc.send)

	for i := 10; i < 60; i++ {
		if got, want := svc.sent[i].Sub(start), 120*ms; got != want {
			t.Fatalf("request %d sent at +%v, want +%v, with the stall's backlog", i, got, want)
		}
	}
	if got, want := svc.sent[60].Sub(start), 120*ms; got != want {
		t.Errorf("request 60 sent at +%v, want +%v: on schedule again", got, want)
	}
	// 950 requests took 1ms; the 50 delayed ones 1ms plus 100, 98, …, 2ms of
	// waiting. The 990th of 1000 sorted is the 40th delayed from the
	// shortest: 2+39·2 = 80ms of waiting.
	want := Stats{
		Count: 1000,
		Mean:  ms + 2550*ms/1000, // waits sum to 2+4+…+100 = 2550ms
		P50:   ms, P90: ms, P99: 81 * ms, Max: 101 * ms,
	}
	if diff := cmp.Diff(want, r.Latency); diff != "" {
		t.Errorf("latency (-want +got):\n%s", diff)
	}
	if r.Lag.Max != 100*ms || r.Lag.P99 != 80*ms {
		t.Errorf("generator lag max %v p99 %v, want 100ms and 80ms", r.Lag.Max, r.Lag.P99)
	}
}

// cancellingClock ends the loop's context when the loop waits for a given
// due time, like an interrupt arriving then.
type cancellingClock struct {
	fakeClock
	at     time.Time
	cancel context.CancelFunc
}

func (c *cancellingClock) SleepUntil(ctx context.Context, t time.Time) {
	if t.Equal(c.at) {
		c.cancel()
	}
	c.fakeClock.SleepUntil(ctx, t)
}

func TestOpenLoopStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// At 100/s, request 10 is due at +100ms.
	clock := &cancellingClock{fakeClock: fakeClock{now: start}, at: start.Add(100 * ms), cancel: cancel}
	svc := &service{took: ms, sent: map[int]time.Time{}}
	r := openLoop{rate: 100, duration: 10 * time.Second, clock: clock}.run(ctx, svc.send)
	if r.Due != 1000 || r.Sent != 10 {
		t.Errorf("due %d, sent %d, want 1000 due and the 10 before the cancellation sent", r.Due, r.Sent)
	}
	if r.Latency.Count != 10 || r.Lag.Count != 10 {
		t.Errorf("%d latencies and %d lags, want one of each per request sent", r.Latency.Count, r.Lag.Count)
	}
}

func TestPerSecond(t *testing.T) {
	tests := []struct {
		n    int
		d    time.Duration
		want float64
	}{
		{1000, 2 * time.Second, 500},
		{3, 1500 * ms, 2},
		{5, 0, 0},
	}
	for _, tt := range tests {
		if got := perSecond(tt.n, tt.d); got != tt.want {
			t.Errorf("perSecond(%d, %v) = %v, want %v", tt.n, tt.d, got, tt.want)
		}
	}
}

func TestVmHWM(t *testing.T) {
	status := "Name:\tcallout-bench\nVmPeak:\t 1300000 kB\nVmHWM:\t   98304 kB\nVmRSS:\t   51200 kB\n"
	got, err := vmHWM([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(98304 << 10); got != want {
		t.Errorf("vmHWM = %d, want %d", got, want)
	}
	if _, err := vmHWM([]byte("Name:\tx\nVmRSS:\t1 kB\n")); err == nil {
		t.Error("vmHWM without a VmHWM line: no error")
	}
}

func TestJobCopyKeepsThePayloadSize(t *testing.T) {
	_, job, _ := payload.Sample()
	got, err := jobCopy(job, 338200)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(job) {
		t.Errorf("copy is %d bytes, want %d like the seed", len(got), len(job))
	}
	var doc struct{ ID int }
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ID != 338200 {
		t.Errorf("copy's id %d, want 338200", doc.ID)
	}
}

func TestStatCPU(t *testing.T) {
	// The command name holds spaces and a parenthesis; utime 250 and stime
	// 50 ticks are the 14th and 15th fields.
	stat := "4242 (callout (x) y) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 50 0 0 20 0 9 0 1000 0 0\n"
	got, err := statCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("statCPU = %v, want %v", got, want)
	}
	for _, bad := range []string{"no name", "1 (x) S 1 2"} {
		if _, err := statCPU(bad); err == nil {
			t.Errorf("statCPU(%q): no error", bad)
		}
	}
}

func TestPostgresProfile(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"cpu.out", "cpu.postgres.out"},
		{"/tmp/prof", "/tmp/prof.postgres"},
	}
	for _, tt := range tests {
		if got := postgresProfile(tt.in); got != tt.want {
			t.Errorf("postgresProfile(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
