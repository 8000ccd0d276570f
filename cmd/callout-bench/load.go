package main

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"time"
)

// Stats summarise the latencies of one measurement.
type Stats struct {
	Count  int
	Errors int
	Mean   time.Duration
	P50    time.Duration
	P90    time.Duration
	P99    time.Duration
	Max    time.Duration
}

// MarshalJSON writes the latencies in microseconds, which reads better than
// nanoseconds and keeps sub-microsecond precision as a fraction.
func (s Stats) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count  int     `json:"count"`
		Errors int     `json:"errors"`
		Mean   float64 `json:"mean_us"`
		P50    float64 `json:"p50_us"`
		P90    float64 `json:"p90_us"`
		P99    float64 `json:"p99_us"`
		Max    float64 `json:"max_us"`
	}{s.Count, s.Errors, micros(s.Mean), micros(s.P50), micros(s.P90), micros(s.P99), micros(s.Max)})
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// summarize computes the stats of latencies, which it sorts in place; errors
// is how many of them ended in an error.
func summarize(latencies []time.Duration, errors int) Stats {
	slices.Sort(latencies)
	s := Stats{Count: len(latencies), Errors: errors}
	if len(latencies) == 0 {
		return s
	}
	var sum time.Duration
	for _, d := range latencies {
		sum += d
	}
	s.Mean = sum / time.Duration(len(latencies))
	s.P50 = percentile(latencies, 0.50)
	s.P90 = percentile(latencies, 0.90)
	s.P99 = percentile(latencies, 0.99)
	s.Max = latencies[len(latencies)-1]
	return s
}

// percentile is the nearest-rank q-quantile (0 < q ≤ 1) of sorted: the
// smallest value that at least q of the values do not exceed. Unlike an
// interpolated one it is always a latency that was actually seen.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// clock is the time an open loop schedules by; the tests fake it.
type clock interface {
	Now() time.Time
	// SleepUntil returns at t, or at once when t has passed or ctx ends.
	SleepUntil(ctx context.Context, t time.Time)
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// sendFunc makes request i of a load, which its generator sent at sent, and
// returns when the answer was complete. An error means the request failed
// (no answer, or not the expected status).
type sendFunc func(ctx context.Context, i int, sent time.Time) (done time.Time, err error)

// openLoop sends requests at a fixed rate whatever the pace of the answers:
// request i is due at start + i/rate, and its latency runs from when it was
// due, not from when it was sent. A stalled server, or a stalled generator,
// thus shows in the latencies of every request that had to wait, instead of
// holding back the requests that would have seen it (coordinated omission).
type openLoop struct {
	rate     float64 // requests per second
	duration time.Duration
	clock    clock
}

// openResult is how an open loop went.
type openResult struct {
	// Due is how many requests the rate and duration called for; Sent how
	// many were sent before the context ended.
	Due  int `json:"due"`
	Sent int `json:"sent"`
	// Latency runs from each request's due time to its complete answer.
	Latency Stats `json:"latency"`
	// Lag is the generator's own delay: sent minus due. It is part of
	// Latency, and tells how much of it is the generator's doing.
	Lag Stats `json:"lag"`
}

// run sends the loop's requests, each on its own goroutine, and waits for
// all of them.
func (o openLoop) run(ctx context.Context, send sendFunc) openResult {
	due := int(o.rate * o.duration.Seconds())
	latency := make([]time.Duration, due)
	lag := make([]time.Duration, due)
	failed := make([]bool, due)
	var wg sync.WaitGroup
	start := o.clock.Now()
	sent := 0
	for i := range due {
		// Each due time is computed from the start, not by adding intervals,
		// so that rounding never drifts the rate.
		at := start.Add(time.Duration(float64(i) * float64(time.Second) / o.rate))
		o.clock.SleepUntil(ctx, at)
		if ctx.Err() != nil {
			break
		}
		now := o.clock.Now()
		lag[i] = now.Sub(at)
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, err := send(ctx, i, now)
			latency[i] = done.Sub(at)
			failed[i] = err != nil
		}()
	}
	wg.Wait()
	errors := 0
	for _, f := range failed[:sent] {
		if f {
			errors++
		}
	}
	return openResult{
		Due:     due,
		Sent:    sent,
		Latency: summarize(latency[:sent], errors),
		Lag:     summarize(lag[:sent], 0),
	}
}

// closedLoop keeps a fixed number of workers busy, each sending its next
// request as soon as its last one is answered: the rate it reaches is the
// highest the target holds at that concurrency.
type closedLoop struct {
	workers  int
	duration time.Duration
}

// closedResult is how a closed loop went.
type closedResult struct {
	// Requests counts the answered requests, Errors the failed ones among them.
	Requests int `json:"requests"`
	Errors   int `json:"errors"`
	// Elapsed runs until the last worker's last answer.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Rate is successful requests per second of Elapsed.
	Rate float64 `json:"rate"`
	// Latency is each request's own time (a closed loop has no due times).
	Latency Stats `json:"latency"`
}

// run lets the workers send until the duration has passed. send is called
// with the worker's number, from that worker's goroutine only.
func (c closedLoop) run(ctx context.Context, send func(ctx context.Context, worker int) error) closedResult {
	latencies := make([][]time.Duration, c.workers)
	errors := make([]int, c.workers)
	start := time.Now()
	deadline := start.Add(c.duration)
	var wg sync.WaitGroup
	for w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				err := send(ctx, w)
				latencies[w] = append(latencies[w], time.Since(t0))
				if err != nil {
					errors[w]++
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(latencies...)
	failed := 0
	for _, n := range errors {
		failed += n
	}
	return closedResult{
		Requests: len(all),
		Errors:   failed,
		Elapsed:  elapsed,
		Rate:     perSecond(len(all)-failed, elapsed),
		Latency:  summarize(all, failed),
	}
}

// perSecond is n events over d as a rate per second; 0 when d is not positive.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
