package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callout/callout"
	"github.com/callout/callout/store"
)

// Events records event publishing and delivery (README: Events): messages
// published, attempts by outcome, publish-to-delivery latency, and, read
// from the store at each scrape, the queue depth and the age of the oldest
// due message per endpoint.
type Events struct {
	published *prometheus.CounterVec
	attempts  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

// Backlogs reads the pending messages per endpoint; *store.Store is one.
type Backlogs interface {
	Backlogs(ctx context.Context) ([]store.Backlog, error)
}

// NewEvents creates the event metrics and registers them on reg, with a
// collector of the backlogs b reports.
func NewEvents(reg prometheus.Registerer, b Backlogs, now func() time.Time) *Events {
	m := &Events{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callout_event_messages_published_total",
			Help: "Event messages published (one per event and endpoint), by manufacturer.",
		}, []string{"manufacturer"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callout_event_attempts_total",
			Help: "Event delivery attempts, by manufacturer and outcome.",
		}, []string{"manufacturer", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callout_event_delivery_latency_seconds",
			Help:    "Time from publishing an event to each successful delivery.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 60, 300, 3600, 36000},
		}, []string{"manufacturer"}),
	}
	reg.MustRegister(m.published, m.attempts, m.latency, &backlogCollector{b: b, now: now})
	return m
}

// EventPublished counts the messages of a published event.
func (m *Events) EventPublished(manufacturer string, messages int) {
	m.published.WithLabelValues(manufacturer).Add(float64(messages))
}

// EventAttempt counts an attempt and, for a success, observes the time
// since the event was published.
func (m *Events) EventAttempt(manufacturer, outcome string, sincePublished time.Duration) {
	m.attempts.WithLabelValues(manufacturer, outcome).Inc()
	if outcome == callout.AttemptSucceeded {
		m.latency.WithLabelValues(manufacturer).Observe(sincePublished.Seconds())
	}
}

var (
	depthDesc = prometheus.NewDesc("callout_event_queue_depth",
		"Pending event messages per endpoint.", []string{"manufacturer", "endpoint"}, nil)
	ageDesc = prometheus.NewDesc("callout_event_oldest_due_seconds",
		"How long the oldest due message of each endpoint has waited.", []string{"manufacturer", "endpoint"}, nil)
)

// backlogCollector reads the backlogs at each scrape.
type backlogCollector struct {
	b   Backlogs
	now func() time.Time
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- ageDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := c.b.Backlogs(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
		return
	}
	for _, b := range list {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(b.Pending), b.ManufacturerID, b.EndpointID)
		age := 0.0
		if b.OldestDue != nil {
			age = max(c.now().Sub(*b.OldestDue).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, age, b.ManufacturerID, b.EndpointID)
	}
}
