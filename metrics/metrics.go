// Package metrics holds Callout's Prometheus metrics: callouts by manufacturer,
// kind and outcome, their duration, breaker state, token requests and the HTTP
// server. Metrics are registered on a registry passed in, never the global one.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callout/callout"
)

// Metrics records what Callout does.
type Metrics struct {
	callouts        *prometheus.CounterVec
	calloutDuration *prometheus.HistogramVec
	breakerState    *prometheus.GaugeVec
	tokenRequests   *prometheus.CounterVec
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	waiting         prometheus.Gauge
}

// latencyBuckets span a fast loopback hop to the longest webhook timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		callouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callout_callouts_total",
			Help: "Callouts made, by manufacturer, kind and outcome.",
		}, []string{"manufacturer", "kind", "outcome"}),
		calloutDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callout_duration_seconds",
			Help:    "Duration of callouts, all attempts included.",
			Buckets: latencyBuckets,
		}, []string{"manufacturer", "kind", "outcome"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callout_breaker_state",
			Help: "Circuit breaker state per webhook: 0 closed, 1 half-open, 2 open.",
		}, []string{"manufacturer", "kind"}),
		tokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callout_token_requests_total",
			Help: "Auth0 token requests, by result.",
		}, []string{"result"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callout_http_requests_total",
			Help: "HTTP requests served, by method, route and status.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callout_http_request_duration_seconds",
			Help:    "Duration of HTTP requests served, by method and route.",
			Buckets: latencyBuckets,
		}, []string{"method", "route"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callout_requests_waiting_for_slot",
			Help: "Price, submit and webhook test requests waiting for a callout slot.",
		}),
	}
	reg.MustRegister(m.callouts, m.calloutDuration, m.breakerState, m.tokenRequests, m.httpRequests, m.httpDuration, m.waiting)
	return m
}

// Callout records one callout.
func (m *Metrics) Callout(manufacturer string, kind callout.Kind, outcome callout.Outcome, d time.Duration) {
	m.callouts.WithLabelValues(manufacturer, string(kind), string(outcome)).Inc()
	m.calloutDuration.WithLabelValues(manufacturer, string(kind), string(outcome)).Observe(d.Seconds())
}

// BreakerState records a breaker's new state: "closed", "half-open" or "open".
func (m *Metrics) BreakerState(manufacturer string, kind callout.Kind, state string) {
	v := 0.0
	switch state {
	case "half-open":
		v = 1
	case "open":
		v = 2
	}
	m.breakerState.WithLabelValues(manufacturer, string(kind)).Set(v)
}

// TokenRequest records one request to a token endpoint.
func (m *Metrics) TokenRequest(err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.tokenRequests.WithLabelValues(result).Inc()
}

// HTTPRequest records one request served; route is the route pattern, not
// the path, so that ids do not become labels.
func (m *Metrics) HTTPRequest(method, route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// WaitingForSlot counts requests that start (delta 1) or stop (-1) waiting
// for a callout slot.
func (m *Metrics) WaitingForSlot(delta int) { m.waiting.Add(float64(delta)) }
