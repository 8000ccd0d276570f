// Package gateway is Callout's HTTP API: the routes of the README's route
// reference on Echo, inbound authentication and tenancy, request ids,
// problem+json errors, health and metrics. It holds no business rules: those
// live in submission, pricing and the root package.
package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/semaphore"

	"github.com/callout/callout"
	"github.com/callout/callout/auth"
	"github.com/callout/callout/pricing"
	"github.com/callout/callout/probe"
	"github.com/callout/callout/requestid"
	"github.com/callout/callout/submission"
)

// Store is what the gateway reads and writes directly.
type Store interface {
	Ping(ctx context.Context) error
	PutManufacturer(ctx context.Context, id, name string) (*callout.Manufacturer, bool, error)
	GetManufacturer(ctx context.Context, id string) (*callout.Manufacturer, error)
	PutWebhook(ctx context.Context, w *callout.Webhook) error
	GetWebhook(ctx context.Context, manufacturerID string, kind callout.Kind) (*callout.Webhook, error)
	DeleteWebhook(ctx context.Context, manufacturerID string, kind callout.Kind) error
	PutCustomer(ctx context.Context, c *callout.Customer) (created bool, err error)
	GetCustomer(ctx context.Context, manufacturerID, customerID string) (*callout.Customer, error)
	PutJob(ctx context.Context, j *callout.Job, inline *callout.Customer) error
	GetJob(ctx context.Context, manufacturerID, jobID string) (*callout.Job, error)
	InsertDelivery(ctx context.Context, d *callout.Delivery) error
	ListDeliveries(ctx context.Context, f callout.DeliveryFilter) ([]*callout.Delivery, string, error)
	GetDelivery(ctx context.Context, manufacturerID, id string) (*callout.Delivery, error)
}

// Submitter submits jobs; *submission.Service is one.
type Submitter interface {
	Submit(ctx context.Context, r submission.Request) (*submission.Reply, error)
}

// Pricer prices jobs; *pricing.Service is one.
type Pricer interface {
	Price(ctx context.Context, r pricing.Request) (*pricing.Quote, error)
}

// Tester tests webhooks; *probe.Service is one.
type Tester interface {
	Test(ctx context.Context, r probe.Request) (*probe.Report, error)
}

// Metrics records HTTP requests and the wait for callout slots;
// *metrics.Metrics is one.
type Metrics interface {
	HTTPRequest(method, route string, status int, d time.Duration)
	WaitingForSlot(delta int)
}

// Options configure a Server.
type Options struct {
	Store     Store
	Submitter Submitter
	Pricer    Pricer
	Tester    Tester
	// ConsoleLinks issues console sign-in links; nil answers 404.
	ConsoleLinks ConsoleLinks
	Verifier     *auth.Verifier
	Policy       callout.URLPolicy
	// MaxBodyBytes bounds inbound bodies; larger ones get 413.
	MaxBodyBytes int64
	// BodyGrace and BodyMinRate pace inbound bodies: one may take BodyGrace
	// plus its length at BodyMinRate bytes a second (408 beyond). Zero means
	// callout.DefaultBodyReadGrace and callout.DefaultBodyMinRate.
	BodyGrace   time.Duration
	BodyMinRate int64
	// MaxInflightBodyBytes bounds the bodies being read and handled at once,
	// as declared; others wait. 0 means callout.DefaultMaxInflightBodyBytes.
	MaxInflightBodyBytes int64
	// MaxCallouts bounds the price, submit and webhook test requests served
	// at once; 0 means callout.DefaultMaxConcurrentCallouts.
	MaxCallouts int
	// MaxCalloutsPerManufacturer bounds those of one manufacturer; 0 means
	// callout.DefaultMaxCalloutsPerManufacturer.
	MaxCalloutsPerManufacturer int
	Logger                     *slog.Logger
	Metrics                    Metrics             // nil for none
	Gatherer                   prometheus.Gatherer // served on /metrics; nil for none
	Now                        func() time.Time

	// Events and EventStore serve the event routes (README: Events); without
	// Events they are not registered.
	Events     Events
	EventStore EventStore
}

// Server is the HTTP API.
type Server struct {
	echo    *echo.Echo
	store   Store
	submit  Submitter
	price   Pricer
	tester  Tester
	links   ConsoleLinks
	verify  *auth.Verifier
	policy  callout.URLPolicy
	maxBody int64
	// bodyGrace and bodyMinRate pace inbound bodies (see pacedReader).
	bodyGrace   time.Duration
	bodyMinRate int64
	// bodies holds a reservation for each body being read and handled.
	bodies          *semaphore.Weighted
	maxInflightBody int64
	slots           *slots
	openapi         []byte // the OpenAPI document, JSON
	log             *slog.Logger
	metrics         Metrics
	now             func() time.Time

	events     Events
	eventStore EventStore
}

// New returns a Server with every route registered.
func New(o Options) *Server {
	s := &Server{
		echo:        echo.New(),
		store:       o.Store,
		submit:      o.Submitter,
		price:       o.Pricer,
		tester:      o.Tester,
		links:       o.ConsoleLinks,
		verify:      o.Verifier,
		policy:      o.Policy,
		maxBody:     o.MaxBodyBytes,
		bodyGrace:   cmp.Or(o.BodyGrace, callout.DefaultBodyReadGrace),
		bodyMinRate: cmp.Or(o.BodyMinRate, callout.DefaultBodyMinRate),
		log:         o.Logger,
		metrics:     o.Metrics,
		now:         o.Now,
		events:      o.Events,
		eventStore:  o.EventStore,
	}
	s.maxInflightBody = cmp.Or(o.MaxInflightBodyBytes, callout.DefaultMaxInflightBodyBytes)
	s.bodies = semaphore.NewWeighted(s.maxInflightBody)
	s.slots = newSlots(cmp.Or(o.MaxCallouts, callout.DefaultMaxConcurrentCallouts),
		cmp.Or(o.MaxCalloutsPerManufacturer, callout.DefaultMaxCalloutsPerManufacturer))
	if o.Metrics != nil {
		s.slots.onWait = o.Metrics.WaitingForSlot
	}
	if s.maxBody <= 0 {
		s.maxBody = callout.DefaultMaxRequestBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	doc, err := openAPIJSON()
	if err != nil {
		panic(err) // the embedded document is checked by the tests
	}
	s.openapi = doc
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.JSONSerializer = jsonSerializer{}
	e.Use(s.observe, s.recover, s.bodyBudget)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET(OpenAPIPath, s.openAPI)
	if o.Gatherer != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	}

	// Route-level middleware rather than a group's: Echo registers catch-all
	// routes for a group with middleware, which would answer a known path
	// with the wrong method 404 instead of 405.
	route := func(method, path string, h echo.HandlerFunc, roles ...auth.Role) {
		e.Add(method, "/v1/manufacturers/:m"+path, h, s.authenticate, s.tenant, allow(roles...))
	}
	route(http.MethodPut, "", s.putManufacturer, auth.RolePlatform)
	route(http.MethodGet, "", s.getManufacturer, auth.RolePlatform, auth.RoleAdmin)
	route(http.MethodPost, "/console-links", s.createConsoleLink, auth.RolePlatform)

	route(http.MethodPut, "/webhooks/:kind", s.putWebhook, auth.RoleAdmin)
	route(http.MethodPatch, "/webhooks/:kind", s.patchWebhook, auth.RoleAdmin)
	route(http.MethodGet, "/webhooks/:kind", s.getWebhook, auth.RoleAdmin)
	route(http.MethodDelete, "/webhooks/:kind", s.deleteWebhook, auth.RoleAdmin)
	route(http.MethodPost, "/webhooks/:kind/test", s.testWebhook, auth.RoleAdmin)

	route(http.MethodGet, "/deliveries", s.listDeliveries, auth.RoleAdmin)
	route(http.MethodGet, "/deliveries/:id", s.getDelivery, auth.RoleAdmin)

	route(http.MethodPut, "/customers/:c", s.putCustomer, auth.RoleApp)
	route(http.MethodGet, "/customers/:c", s.getCustomer, auth.RoleApp, auth.RoleAdmin)
	route(http.MethodPut, "/jobs/:j", s.putJob, auth.RoleApp)
	route(http.MethodGet, "/jobs/:j", s.getJob, auth.RoleApp, auth.RoleAdmin)
	route(http.MethodPost, "/jobs/:j/submit", s.submitJob, auth.RoleApp)
	route(http.MethodPost, "/jobs/:j/price", s.priceJob, auth.RoleApp)
	s.eventRoutes(route)
	return s
}

// ServeHTTP serves the API. It stamps each request's arrival first, so that
// a price or submit that arrived while an identical callout was in flight
// shares it, however long its own authentication, reads or wait for a
// callout slot take.
//
// It also takes the platform's X-Request-Id, or makes one, puts it on the
// request's context (and so on every log line and callout) and echoes it:
// both in the one copy of the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := s.now()
	id := r.Header.Get(requestid.Header)
	if !requestid.Valid(id) {
		id = requestid.New()
	}
	w.Header().Set(requestid.Header, id)
	ctx := requestid.With(context.WithValue(r.Context(), arrivalKey{}, arrived), id)
	s.echo.ServeHTTP(w, r.WithContext(ctx))
}

type arrivalKey struct{}

// arrival is when the request of ctx came in.
func arrival(ctx context.Context) time.Time {
	t, _ := ctx.Value(arrivalKey{}).(time.Time)
	return t
}

// jsonSerializer encodes every JSON response of the API with callout.MarshalJSON, as the
// problem documents and the kept submit answers are: without HTML escaping
// (Echo's default escapes <, > and &, which customers' messages hold).
type jsonSerializer struct{}

var _ echo.JSONSerializer = jsonSerializer{}

// Serialize writes i as JSON; indent is ignored, as no route asks for it.
func (jsonSerializer) Serialize(c echo.Context, i any, _ string) error {
	body, err := callout.MarshalJSON(i)
	if err != nil {
		return err
	}
	_, err = c.Response().Write(body)
	return err
}

// Deserialize is not used: handlers decode bodies strictly themselves.
func (jsonSerializer) Deserialize(c echo.Context, i any) error {
	return json.NewDecoder(c.Request().Body).Decode(i)
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return &callout.Error{Code: callout.ECodeUnavailable, Message: "the database is not reachable", Err: err}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// handleError answers every error as an RFC 9457 problem document.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		err = fromEcho(he)
	}
	p, body := problemResponse(err)
	// A failed callout is the manufacturer's failure, logged by the service
	// that made it; only Callout's own failures are errors here.
	if p.Code == callout.ECodeInternal || p.Code == callout.ECodeUnavailable {
		s.log.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method, "path", c.Path(), "code", p.Code, "error", err)
	}
	setRetryAfter(c, p.RetryAfter)
	if p.Status == http.StatusUnauthorized {
		// RFC 6750 §3: say which scheme is wanted, and whether the token
		// given was the trouble.
		challenge := `Bearer realm="callout"`
		if c.Request().Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
		}
		c.Response().Header().Set("WWW-Authenticate", challenge)
	}
	if werr := c.Blob(p.Status, "application/problem+json", body); werr != nil {
		s.log.DebugContext(c.Request().Context(), "writing a response", "error", werr)
	}
}

// fromEcho turns Echo's own errors (no route, wrong method) into ours.
func fromEcho(he *echo.HTTPError) error {
	switch he.Code {
	case http.StatusNotFound:
		return callout.Errorf(callout.ECodeNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		return callout.Errorf(callout.ECodeMethodNotAllowed, "method not allowed on this route")
	case http.StatusRequestEntityTooLarge:
		return callout.Errorf(callout.ECodeTooLarge, "the request body is too large")
	case http.StatusUnauthorized:
		return callout.Errorf(callout.ECodeUnauthorized, "authentication required")
	}
	return &callout.Error{Code: callout.ECodeInternal, Err: he}
}
