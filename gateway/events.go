package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
	"github.com/callout/callout/auth"
	"github.com/callout/callout/events"
	"github.com/callout/callout/webhook"
)

// EventStore is what the event routes read and write directly;
// *store.Store is one.
type EventStore interface {
	PutEndpoint(ctx context.Context, e *callout.Endpoint) error
	GetEndpoint(ctx context.Context, manufacturerID, id string) (*callout.Endpoint, error)
	ListEndpoints(ctx context.Context, manufacturerID string) ([]*callout.Endpoint, error)
	DeleteEndpoint(ctx context.Context, manufacturerID, id string) error
	ReplaceEndpoints(ctx context.Context, manufacturerID string, eps []*callout.Endpoint) error
	ListEvents(ctx context.Context, f callout.EventFilter) ([]*callout.Event, string, error)
	GetEvent(ctx context.Context, manufacturerID, id string) (*callout.Event, []*callout.EventMessage, error)
	ListAttempts(ctx context.Context, f callout.AttemptFilter) ([]*callout.Attempt, string, error)
	Redeliver(ctx context.Context, manufacturerID, eventID, endpointID string) (int, error)
	Recover(ctx context.Context, manufacturerID, endpointID string, since, until time.Time) (int, error)
	PutEventType(ctx context.Context, t *callout.EventType) error
	ListEventTypes(ctx context.Context) ([]*callout.EventType, error)
}

// Events publishes events and tests endpoints; *events.Service is one.
type Events interface {
	Publish(ctx context.Context, p events.Publication) (*callout.PublishResult, error)
	Test(ctx context.Context, manufacturerID, endpointID string) (*webhook.EventResult, error)
}

// eventRoutes registers the event routes (README: Events).
func (s *Server) eventRoutes(route func(method, path string, h echo.HandlerFunc, roles ...auth.Role)) {
	if s.events == nil {
		return
	}
	admin := []auth.Role{auth.RoleAdmin, auth.RolePlatform}
	route(http.MethodPost, "/events", s.publishEvent, auth.RolePlatform, auth.RoleApp)
	route(http.MethodGet, "/events", s.listEvents, admin...)
	route(http.MethodGet, "/events/:id", s.getEvent, admin...)
	route(http.MethodPost, "/events/:id/redeliver", s.redeliver, admin...)
	route(http.MethodPost, "/endpoints", s.createEndpoint, admin...)
	route(http.MethodGet, "/endpoints", s.listEndpoints, admin...)
	route(http.MethodPut, "/endpoints", s.replaceEndpoints, admin...)
	route(http.MethodGet, "/endpoints/:e", s.getEndpoint, admin...)
	route(http.MethodPut, "/endpoints/:e", s.putEndpoint, admin...)
	route(http.MethodPatch, "/endpoints/:e", s.patchEndpoint, admin...)
	route(http.MethodDelete, "/endpoints/:e", s.deleteEndpoint, admin...)
	route(http.MethodPost, "/endpoints/:e/test", s.testEndpoint, admin...)
	route(http.MethodGet, "/endpoints/:e/attempts", s.listAttempts, admin...)
	route(http.MethodPost, "/endpoints/:e/recover", s.recoverEndpoint, admin...)
	s.echo.GET("/v1/event-types", s.listEventTypes, s.authenticate, allow(auth.RolePlatform, auth.RoleAdmin, auth.RoleApp))
	s.echo.PUT("/v1/event-types/:name", s.putEventType, s.authenticate, allow(auth.RolePlatform))
}

// publishInput is a publish request.
type publishInput struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	ID    string          `json:"id"`
}

// publishOutput is the 202 answer to a publish; the same for a repeat.
type publishOutput struct {
	ID        string `json:"id"`
	Event     string `json:"event"`
	Timestamp string `json:"timestamp"`
	Messages  int    `json:"messages"`
}

func (s *Server) publishEvent(c echo.Context) error {
	var in publishInput
	if err := s.decodeStrict(c, &in, false); err != nil {
		return err
	}
	res, err := s.events.Publish(c.Request().Context(), events.Publication{
		ManufacturerID: c.Param("m"), ID: in.ID, Event: in.Event, Data: in.Data,
		IdempotencyKey: c.Request().Header.Get("Idempotency-Key"),
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, publishOutput{ID: res.Event.ID, Event: res.Event.Type,
		Timestamp: callout.FormatEventTime(res.Event.Timestamp), Messages: res.Messages})
}

// eventOutput is an event as the log shows it.
type eventOutput struct {
	ID        string           `json:"id"`
	Event     string           `json:"event"`
	Timestamp string           `json:"timestamp"`
	Data      json.RawMessage  `json:"data"`
	Endpoints []*messageOutput `json:"endpoints,omitempty"`
}

// messageOutput is where one endpoint's message of an event stands.
type messageOutput struct {
	EndpointID     string     `json:"endpoint_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastHTTPStatus int        `json:"last_http_status"`
	LastOutcome    string     `json:"last_outcome"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

func eventOf(ev *callout.Event) *eventOutput {
	return &eventOutput{ID: ev.ID, Event: ev.Type, Timestamp: callout.FormatEventTime(ev.Timestamp), Data: ev.Data}
}

// page reads the limit and cursor of a list.
func page(c echo.Context, fe *callout.FieldErrors) (limit int, cursor string) {
	limit = callout.DefaultDeliveryLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > callout.MaxDeliveryLimit {
			fe.Add("limit", "must be a whole number from 1 to %d", callout.MaxDeliveryLimit)
		}
		limit = n
	}
	return limit, c.QueryParam("cursor")
}

func timeParam(c echo.Context, name string, fe *callout.FieldErrors) time.Time {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		fe.Add(name, "must be an RFC 3339 time such as 2026-01-02T03:04:05Z")
	}
	return t
}

func nextCursor(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}

func (s *Server) listEvents(c echo.Context) error {
	var fe callout.FieldErrors
	f := callout.EventFilter{ManufacturerID: c.Param("m"), Type: c.QueryParam("event"),
		Since: timeParam(c, "since", &fe), Until: timeParam(c, "until", &fe)}
	f.Limit, f.Cursor = page(c, &fe)
	if f.Type != "" && !callout.ValidEventType(f.Type) {
		fe.Add("event", "is not a valid event type name")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	list, next, err := s.eventStore.ListEvents(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]*eventOutput, len(list))
	for i, ev := range list {
		out[i] = eventOf(ev)
	}
	return c.JSON(http.StatusOK, map[string]any{"events": out, "next_cursor": nextCursor(next)})
}

func (s *Server) getEvent(c echo.Context) error {
	ev, msgs, err := s.eventStore.GetEvent(c.Request().Context(), c.Param("m"), c.Param("id"))
	if err != nil {
		return err
	}
	out := eventOf(ev)
	out.Endpoints = make([]*messageOutput, len(msgs))
	for i, m := range msgs {
		out.Endpoints[i] = &messageOutput{EndpointID: m.EndpointID, Status: string(m.Status), Attempts: m.Attempts,
			LastHTTPStatus: m.LastHTTPStatus, LastOutcome: m.LastOutcome, NextAttemptAt: m.NextAttemptAt, UpdatedAt: m.UpdatedAt}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) redeliver(c echo.Context) error {
	var in struct {
		EndpointID string `json:"endpoint_id"`
	}
	if err := s.decodeStrict(c, &in, true); err != nil {
		return err
	}
	n, err := s.eventStore.Redeliver(c.Request().Context(), c.Param("m"), c.Param("id"), in.EndpointID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int{"messages": n})
}

func (s *Server) recoverEndpoint(c echo.Context) error {
	var in struct {
		Since *time.Time `json:"since"`
		Until *time.Time `json:"until"`
	}
	if err := s.decodeStrict(c, &in, false); err != nil {
		return err
	}
	if in.Since == nil {
		return callout.Invalid(callout.FieldError{Field: "since", Message: "is required"})
	}
	var until time.Time
	if in.Until != nil {
		until = *in.Until
	}
	n, err := s.eventStore.Recover(c.Request().Context(), c.Param("m"), c.Param("e"), *in.Since, until)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int{"messages": n})
}

// endpointInput is an endpoint config as an administrator sends it.
// Pointers tell an omitted member from a zero one, for PATCH; read-only
// members of a GET are accepted and ignored, so a config read can be sent
// back.
type endpointInput struct {
	ID                 *string    `json:"id"`
	URL                *string    `json:"url"`
	Description        *string    `json:"description"`
	Events             *[]string  `json:"events"`
	Auth               *authInput `json:"auth"`
	SigningSecret      *string    `json:"signing_secret"`
	Format             *string    `json:"format"`
	TimeoutMS          *int       `json:"timeout_ms"`
	MaxAttempts        *int       `json:"max_attempts"`
	RateLimitPerSecond *int       `json:"rate_limit_per_second"`
	Enabled            *bool      `json:"enabled"`

	SigningSecretSet json.RawMessage `json:"signing_secret_set"`
	ManufacturerID   json.RawMessage `json:"manufacturer_id"`
	DisabledReason   json.RawMessage `json:"disabled_reason"`
	FailingSince     json.RawMessage `json:"failing_since"`
	CreatedAt        json.RawMessage `json:"created_at"`
	UpdatedAt        json.RawMessage `json:"updated_at"`
}

// apply sets every member given on e. Secrets omitted are kept. Enabling
// an endpoint clears the reason it was disabled and its failure streak.
func (in *endpointInput) apply(e *callout.Endpoint) {
	set(&e.URL, in.URL)
	set(&e.Description, in.Description)
	set(&e.Events, in.Events)
	set(&e.SigningSecret, in.SigningSecret)
	if in.Format != nil {
		e.Format = callout.EndpointFormat(*in.Format)
	}
	set(&e.TimeoutMS, in.TimeoutMS)
	set(&e.MaxAttempts, in.MaxAttempts)
	set(&e.RateLimitPerSecond, in.RateLimitPerSecond)
	if in.Enabled != nil {
		if *in.Enabled && !e.Enabled {
			e.DisabledReason, e.FailingSince = "", nil
		}
		e.Enabled = *in.Enabled
	}
	in.Auth.apply(&e.Auth)
}

// endpointOutput is an endpoint config with its secrets redacted.
type endpointOutput struct {
	ID                 string     `json:"id"`
	ManufacturerID     string     `json:"manufacturer_id"`
	URL                string     `json:"url"`
	Description        string     `json:"description"`
	Events             []string   `json:"events"`
	Auth               authOutput `json:"auth"`
	SigningSecretSet   bool       `json:"signing_secret_set"`
	Format             string     `json:"format"`
	TimeoutMS          int        `json:"timeout_ms"`
	MaxAttempts        int        `json:"max_attempts"`
	RateLimitPerSecond *int       `json:"rate_limit_per_second"`
	Enabled            bool       `json:"enabled"`
	DisabledReason     string     `json:"disabled_reason,omitempty"`
	FailingSince       *time.Time `json:"failing_since"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

func redactEndpoint(e *callout.Endpoint) *endpointOutput {
	out := &endpointOutput{ID: e.ID, ManufacturerID: e.ManufacturerID, URL: e.URL, Description: e.Description,
		Events: e.Events, Auth: redactAuth(e.Auth), SigningSecretSet: e.SigningSecret != "", Format: string(e.Format),
		TimeoutMS: e.TimeoutMS, MaxAttempts: e.MaxAttempts, Enabled: e.Enabled, DisabledReason: e.DisabledReason,
		FailingSince: e.FailingSince, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if out.Events == nil {
		out.Events = []string{"*"}
	}
	if e.RateLimitPerSecond > 0 {
		out.RateLimitPerSecond = &e.RateLimitPerSecond
	}
	return out
}

// newEndpoint returns an endpoint of the manufacturer with every default
// set, enabled, under a new id.
func newEndpoint(m string) *callout.Endpoint {
	e := &callout.Endpoint{ManufacturerID: m, ID: "ep_" + strings.ReplaceAll(uuid.NewString(), "-", ""), Enabled: true}
	e.SetDefaults()
	return e
}

// build makes the endpoint in describes: new, or replacing old (PUT), or
// changing it (patch). Field errors are prefixed with prefix.
func (s *Server) build(in *endpointInput, e *callout.Endpoint, prefix string) error {
	var fe callout.FieldErrors
	if in.ID != nil && *in.ID != e.ID {
		if !callout.ValidID(*in.ID) {
			fe.Add(prefix+"id", "must be 1 to 64 of the characters A-Z a-z 0-9 . _ -")
		}
		e.ID = *in.ID
	}
	in.apply(e)
	if err := e.Validate(s.policy); err != nil {
		if ce, ok := err.(*callout.Error); ok {
			for _, f := range ce.Fields {
				fe.Add(prefix+f.Field, "%s", f.Message)
			}
		}
	}
	return fe.Err()
}

func (s *Server) createEndpoint(c echo.Context) error {
	var in endpointInput
	if err := s.decodeStrict(c, &in, false); err != nil {
		return err
	}
	if in.ID != nil {
		return callout.Invalid(callout.FieldError{Field: "id", Message: "is chosen by Callout; use PUT .../endpoints/{id} to choose it"})
	}
	e := newEndpoint(c.Param("m"))
	if err := s.build(&in, e, ""); err != nil {
		return err
	}
	if err := s.eventStore.PutEndpoint(c.Request().Context(), e); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, redactEndpoint(e))
}

func (s *Server) putEndpoint(c echo.Context) error   { return s.saveEndpoint(c, false) }
func (s *Server) patchEndpoint(c echo.Context) error { return s.saveEndpoint(c, true) }

// saveEndpoint creates or replaces (PUT) or changes (PATCH) an endpoint.
func (s *Server) saveEndpoint(c echo.Context, patch bool) error {
	ctx, m, id := c.Request().Context(), c.Param("m"), c.Param("e")
	if err := callout.CheckID("endpoint", id); err != nil {
		return err
	}
	var in endpointInput
	if err := s.decodeStrict(c, &in, false); err != nil {
		return err
	}
	if in.ID != nil && *in.ID != id {
		return callout.Invalid(callout.FieldError{Field: "id", Message: "must be the endpoint's id in the path"})
	}
	e := newEndpoint(m)
	e.ID = id
	if patch {
		var err error
		if e, err = s.eventStore.GetEndpoint(ctx, m, id); err != nil {
			return err
		}
	}
	if err := s.build(&in, e, ""); err != nil {
		return err
	}
	if err := s.eventStore.PutEndpoint(ctx, e); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, redactEndpoint(e))
}

// replaceEndpoints makes the array the manufacturer's endpoints (seed 000:
// old webhooks are replaced with the new ones). An element with the id of
// an existing endpoint replaces it; one without an id is new.
func (s *Server) replaceEndpoints(c echo.Context) error {
	ctx, m := c.Request().Context(), c.Param("m")
	var in []endpointInput
	if err := s.decodeStrict(c, &in, false); err != nil {
		return err
	}
	var fe callout.FieldErrors
	eps := make([]*callout.Endpoint, len(in))
	seen := map[string]bool{}
	for i := range in {
		eps[i] = newEndpoint(m)
		prefix := "[" + strconv.Itoa(i) + "]."
		if err := s.build(&in[i], eps[i], prefix); err != nil {
			fe = append(fe, err.(*callout.Error).Fields...)
		}
		if seen[eps[i].ID] {
			fe.Add(prefix+"id", "is given twice")
		}
		seen[eps[i].ID] = true
	}
	if err := fe.Err(); err != nil {
		return err
	}
	if err := s.eventStore.ReplaceEndpoints(ctx, m, eps); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, endpointList(eps))
}

func (s *Server) listEndpoints(c echo.Context) error {
	list, err := s.eventStore.ListEndpoints(c.Request().Context(), c.Param("m"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, endpointList(list))
}

// endpointList is the answer of a list or a replacement of endpoints.
func endpointList(eps []*callout.Endpoint) map[string]any {
	out := make([]*endpointOutput, len(eps))
	for i, e := range eps {
		out[i] = redactEndpoint(e)
	}
	return map[string]any{"endpoints": out}
}

func (s *Server) getEndpoint(c echo.Context) error {
	e, err := s.eventStore.GetEndpoint(c.Request().Context(), c.Param("m"), c.Param("e"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, redactEndpoint(e))
}

func (s *Server) deleteEndpoint(c echo.Context) error {
	if err := s.eventStore.DeleteEndpoint(c.Request().Context(), c.Param("m"), c.Param("e")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// attemptOutput is one attempt, headers redacted.
type attemptOutput struct {
	ID             string            `json:"id"`
	EventID        string            `json:"event_id,omitempty"`
	Attempt        int               `json:"attempt"`
	StartedAt      time.Time         `json:"started_at"`
	DurationMS     float64           `json:"duration_ms"`
	HTTPStatus     int               `json:"http_status"`
	Outcome        string            `json:"outcome"`
	Detail         string            `json:"detail"`
	RequestHeaders map[string]string `json:"request_headers"`
	ResponseBody   string            `json:"response_body"`
}

func (s *Server) testEndpoint(c echo.Context) error {
	res, err := s.events.Test(c.Request().Context(), c.Param("m"), c.Param("e"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, attemptOutput{Attempt: 1, StartedAt: res.StartedAt,
		DurationMS: float64(res.Duration) / float64(time.Millisecond), HTTPStatus: res.HTTPStatus,
		Outcome: res.Outcome, Detail: res.Detail, RequestHeaders: res.RequestHeaders, ResponseBody: string(res.ResponseBody)})
}

func (s *Server) listAttempts(c echo.Context) error {
	var fe callout.FieldErrors
	f := callout.AttemptFilter{ManufacturerID: c.Param("m"), EndpointID: c.Param("e"), Outcome: c.QueryParam("status")}
	f.Limit, f.Cursor = page(c, &fe)
	if err := fe.Err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.eventStore.GetEndpoint(ctx, f.ManufacturerID, f.EndpointID); err != nil {
		return err
	}
	list, next, err := s.eventStore.ListAttempts(ctx, f)
	if err != nil {
		return err
	}
	out := make([]attemptOutput, len(list))
	for i, a := range list {
		out[i] = attemptOutput{ID: a.ID, EventID: a.EventID, Attempt: a.Number, StartedAt: a.StartedAt, DurationMS: a.DurationMS,
			HTTPStatus: a.HTTPStatus, Outcome: a.Outcome, Detail: a.Detail, RequestHeaders: a.RequestHeaders,
			ResponseBody: string(a.ResponseBody)}
	}
	return c.JSON(http.StatusOK, map[string]any{"attempts": out, "next_cursor": nextCursor(next)})
}

// eventTypeOutput is an entry of the catalogue.
type eventTypeOutput struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Example     json.RawMessage `json:"example"`
	Builtin     bool            `json:"builtin"`
}

func typeOf(t *callout.EventType) eventTypeOutput {
	ex := t.Example
	if len(ex) == 0 {
		ex = json.RawMessage(`{}`)
	}
	return eventTypeOutput{Name: t.Name, Description: t.Description, Example: ex, Builtin: t.Builtin}
}

func (s *Server) listEventTypes(c echo.Context) error {
	declared, err := s.eventStore.ListEventTypes(c.Request().Context())
	if err != nil {
		return err
	}
	var out []eventTypeOutput
	for i := range callout.BuiltinEventTypes {
		out = append(out, typeOf(&callout.BuiltinEventTypes[i]))
	}
	for _, t := range declared {
		out = append(out, typeOf(t))
	}
	return c.JSON(http.StatusOK, map[string]any{"event_types": out})
}

func (s *Server) putEventType(c echo.Context) error {
	name := c.Param("name")
	var in struct {
		Description string          `json:"description"`
		Example     json.RawMessage `json:"example"`
	}
	if err := s.decodeStrict(c, &in, false); err != nil {
		return err
	}
	var fe callout.FieldErrors
	if !callout.ValidEventType(name) {
		fe.Add("name", "must be 1 to 100 of the characters A-Z a-z 0-9 . _ : -")
	}
	for _, b := range callout.BuiltinEventTypes {
		if b.Name == name {
			fe.Add("name", "is one of Callout's own event types")
		}
	}
	if len(in.Description) > 1000 {
		fe.Add("description", "must be at most 1000 characters")
	}
	if len(in.Example) > 0 && !callout.IsJSONObject(in.Example) {
		fe.Add("example", "must be a JSON object")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	t := &callout.EventType{Name: name, Description: in.Description, Example: in.Example}
	if err := s.eventStore.PutEventType(c.Request().Context(), t); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, typeOf(t))
}
