// Package server wires Callout together: the store, the outbound webhook
// client, the submission and pricing services and the HTTP API, from a
// configuration. The callout command and the end-to-end tests share it.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callout/callout"
	"github.com/callout/callout/auth"
	"github.com/callout/callout/auth0"
	"github.com/callout/callout/config"
	"github.com/callout/callout/console"
	"github.com/callout/callout/dispatch"
	"github.com/callout/callout/events"
	"github.com/callout/callout/gateway"
	"github.com/callout/callout/metrics"
	"github.com/callout/callout/pricing"
	"github.com/callout/callout/probe"
	"github.com/callout/callout/queue"
	"github.com/callout/callout/requestid"
	"github.com/callout/callout/secret"
	"github.com/callout/callout/store"
	"github.com/callout/callout/submission"
	"github.com/callout/callout/webhook"
)

// Each part meets the small interfaces its consumers declare.
var (
	_ pricing.Caller    = (*dispatch.Dispatcher)(nil)
	_ submission.Caller = (*dispatch.Dispatcher)(nil)
	_ probe.Caller      = (*dispatch.Dispatcher)(nil)
	_ pricing.Store     = (*store.Store)(nil)
	_ submission.Store  = (*store.Store)(nil)
	_ probe.Store       = (*store.Store)(nil)
	_ gateway.Store     = (*store.Store)(nil)
	_ gateway.Submitter = (*submission.Service)(nil)
	_ gateway.Pricer    = (*pricing.Service)(nil)
	_ gateway.Tester    = (*probe.Service)(nil)
	_ gateway.Metrics   = (*metrics.Metrics)(nil)
	_ console.Store     = (*store.Store)(nil)
	_ console.Breakers  = (*webhook.Client)(nil)

	_ events.Store       = (*store.Store)(nil)
	_ events.Caller      = (*webhook.Client)(nil)
	_ events.Metrics     = (*metrics.Events)(nil)
	_ queue.Deliverer    = (*events.Service)(nil)
	_ gateway.Events     = (*events.Service)(nil)
	_ gateway.EventStore = (*store.Store)(nil)
	_ store.Enqueuer     = (*queue.Queue)(nil)
	_ metrics.Backlogs   = (*store.Store)(nil)
)

// Server is Callout wired together: the store, the outbound client and the API.
type Server struct {
	version string
	cfg     *config.Config
	log     *slog.Logger
	store   *store.Store
	tokens  *auth0.Tokens
	handler http.Handler
	// metrics serves /metrics apart from the API; nil when the API serves
	// it (MetricsListen empty).
	metrics http.Handler

	// pruner is the store, as the retention pruner sees it.
	pruner pruner
	// closed ends when Close is called; pruning counts the running pruner,
	// which Close waits for so that it never prunes a closed store.
	closed  context.Context
	stop    context.CancelFunc
	pruning sync.WaitGroup

	// queue delivers event messages; Serve starts it and stops it last.
	queue *queue.Queue
}

// pruner deletes what the retention rules let go.
type pruner interface {
	PruneDeliveries(ctx context.Context, before time.Time, batch int) (int64, error)
	PruneIdempotency(ctx context.Context, before time.Time) (int64, error)
	PruneConsole(ctx context.Context, before time.Time) (int64, error)
	PruneEvents(ctx context.Context, before time.Time, batch int) (int64, error)
}

// Option changes how New wires Callout.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock sets the clock the console judges its links and sessions by
// (tests move it to expire them).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

var _ pruner = (*store.Store)(nil)

// NewLogger returns the JSON or text logger of cfg, adding the request id of
// the context to every line.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(requestid.NewHandler(h))
}

// New opens the store and wires every part. version names Callout to
// manufacturers in the User-Agent header.
func New(ctx context.Context, cfg *config.Config, secrets *config.Secrets, log *slog.Logger, version string, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := auth.CheckSecret(secrets.JWTSecret); err != nil {
		return nil, fmt.Errorf("CALLOUT_JWT_SECRET: %w", err)
	}
	box, err := secret.NewBox(secrets.SecretKey)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Options{
		URL:             cfg.DatabaseURL,
		DataDir:         cfg.DataDir,
		Sealer:          box,
		MaxOpenConns:    cfg.DB.MaxOpenConns,
		MaxIdleConns:    cfg.DB.MaxIdleConns,
		ConnMaxLifetime: cfg.DB.ConnMaxLifetime,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}

	// Read once: it lasts as long as the data.
	installation, err := st.Installation(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

	policy := webhook.Policy{AllowPrivateNetworks: cfg.AllowPrivateNetworks, AllowInsecureHTTP: cfg.AllowInsecureHTTP}
	hc := webhook.NewHTTPClient(policy)
	tokens := auth0.New(auth0.Options{HTTPClient: hc, OnFetch: m.TokenRequest})
	client := webhook.New(webhook.Options{
		HTTPClient:       hc,
		Policy:           policy,
		Tokens:           tokens,
		MaxResponseBytes: cfg.MaxResponseBytes,
		UserAgent:        "callout/" + version,
		Logger:           log,
		OnCallout: func(w *callout.Webhook, r *webhook.Result) {
			m.Callout(w.ManufacturerID, w.Kind, r.Outcome, r.Duration)
		},
		OnBreakerChange: func(mfr string, kind callout.Kind, _, to string) { m.BreakerState(mfr, kind, to) },
	})
	// The metrics carry manufacturer ids: by default they are served on an
	// address of their own, on loopback, not beside the API.
	var (
		apiGatherer    prometheus.Gatherer = reg
		metricsHandler http.Handler
	)
	if cfg.MetricsListen != "" {
		apiGatherer = nil
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		metricsHandler = mux
	}
	newID := func() string { return uuid.Must(uuid.NewV7()).String() }
	d := dispatch.New(client, newID, cfg.MaxPayloadBytes)
	links := console.NewLinks(st, o.now)

	ev := events.New(events.Options{
		Store: st, Caller: client, MaxDataBytes: int(cfg.Events.MaxDataBytes), DisableAfter: cfg.Events.DisableAfter,
		MaxInflightPerEndpoint: cfg.Events.MaxInflightPerEndpoint, Metrics: metrics.NewEvents(reg, st, time.Now),
	})
	q, err := queue.New(ctx, queue.Options{Store: st, URL: cfg.DatabaseURL, Deliverer: ev,
		Workers: cfg.Events.Workers, Lease: cfg.Events.Lease, Logger: log})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("starting the event queue: %w", err)
	}
	st.SetEnqueuer(q)

	api := gateway.New(gateway.Options{
		Store: st,
		Submitter: submission.New(submission.Options{
			Store: st, Caller: d, Replies: gateway.Replies{}, NewID: newID, Lease: cfg.SubmissionLease, Logger: log,
			Installation: installation,
		}),
		Pricer:                     pricing.New(pricing.Options{Store: st, Caller: d}),
		Tester:                     probe.New(st, d, newID),
		ConsoleLinks:               links,
		Verifier:                   auth.NewVerifier(secrets.JWTSecret, time.Now),
		Policy:                     policy.URLPolicy(),
		MaxBodyBytes:               cfg.MaxRequestBytes,
		MaxCallouts:                cfg.MaxConcurrentCallouts,
		MaxCalloutsPerManufacturer: cfg.MaxCalloutsPerManufacturer,
		MaxInflightBodyBytes:       cfg.MaxInflightBodyBytes,
		BodyGrace:                  cfg.BodyReadGrace,
		BodyMinRate:                cfg.BodyMinRate,
		Logger:                     log,
		Metrics:                    m,
		Gatherer:                   apiGatherer,
		Events:                     ev,
		EventStore:                 st,
	})
	cons, err := console.New(console.Options{
		Links: links,
		API:   api,
		Mint: func(role auth.Role, m string) (string, error) {
			return auth.Mint(secrets.JWTSecret, role, m, time.Minute, time.Now())
		},
		Breakers: client,
		Logger:   log,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	closed, stop := context.WithCancel(context.Background())
	return &Server{version: version, cfg: cfg, log: log, store: st, tokens: tokens, handler: withConsole(api, cons), metrics: metricsHandler,
		pruner: st, closed: closed, stop: stop, queue: q}, nil
}

// Serve answers on ln until ctx ends, then lets in-flight requests (and so
// their callouts) finish within the shutdown timeout.
func (a *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	pctx, cancel := context.WithCancel(ctx)
	stopOnClose := context.AfterFunc(a.closed, cancel)
	a.pruning.Go(func() {
		defer stopOnClose()
		defer cancel()
		a.prune(pctx)
	})
	// Not cancelled with ctx: River would cancel the attempts under way;
	// stopQueue lets them finish.
	if err := a.StartEvents(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	// Stopped after the HTTP server, so that events published by requests
	// still in flight are worked, and within the shutdown timeout.
	defer a.stopQueue(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("callout serving", "addr", ln.Addr().String(), "version", a.version, "database", a.store.Dialect())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down: waiting for in-flight requests", "timeout", a.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// prune deletes expired deliveries and idempotency records every hour, until
// ctx ends.
func (a *Server) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		if n, err := a.pruner.PruneDeliveries(ctx, now.Add(-a.cfg.DeliveryRetention), store.DefaultPruneBatch); err != nil {
			a.log.Error("pruning deliveries", "error", err)
		} else if n > 0 {
			a.log.Info("pruned deliveries", "count", n)
		}
		if _, err := a.pruner.PruneIdempotency(ctx, now.Add(-callout.IdempotencyWindow)); err != nil {
			a.log.Error("pruning idempotency keys", "error", err)
		}
		if _, err := a.pruner.PruneConsole(ctx, now); err != nil {
			a.log.Error("pruning console links and sessions", "error", err)
		}
		if n, err := a.pruner.PruneEvents(ctx, now.Add(-a.cfg.Events.Retention), store.DefaultPruneBatch); err != nil {
			a.log.Error("pruning events", "error", err)
		} else if n > 0 {
			a.log.Info("pruned events", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ServeMetrics answers /metrics on ln until ctx ends, when the
// configuration gives metrics an address of their own (MetricsListen);
// otherwise the API serves them and ServeMetrics returns at once.
func (a *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	if a.metrics == nil {
		return ln.Close()
	}
	srv := &http.Server{
		Handler:           a.metrics,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving metrics: %w", err)
	}
	return nil
}

// withConsole serves the console under /console/ and the API elsewhere. It
// is no http.ServeMux, which would clean and redirect the API's paths.
func withConsole(api, cons http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/console":
			http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, "/console/"):
			cons.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// StartEvents starts delivering event messages; Serve calls it. Close
// stops it.
func (a *Server) StartEvents(ctx context.Context) error { return a.queue.Start(ctx) }

// stopQueue lets the event attempts under way finish within the shutdown
// timeout; those cut off are taken over after the lease.
func (a *Server) stopQueue(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := a.queue.Stop(sctx); err != nil {
		a.log.Error("stopping the event queue", "error", err)
	}
}

// Handler is the HTTP API and the console.
func (a *Server) Handler() http.Handler { return a.handler }

// Store is the server's store.
func (a *Server) Store() *store.Store { return a.store }

// Close stops the retention pruner and waits for it, stops the event queue,
// then releases the store and the token cache.
func (a *Server) Close() error {
	a.stop()
	a.pruning.Wait()
	// Stopped already when Serve ran; otherwise this closes its pool.
	a.stopQueue(context.Background())
	if a.tokens != nil {
		a.tokens.Close()
	}
	return a.store.Close()
}
