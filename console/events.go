package console

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/callout/callout"
)

// The event pages (README: Events): endpoints (create, edit, test, attempts,
// recover), the event log with each event's messages (redeliver), and the
// event-type catalogue. Like every page, they read and change through the
// API.

// endpointView is an endpoint as the API reads it, secrets redacted.
type endpointView struct {
	ID                 string     `json:"id"`
	URL                string     `json:"url"`
	Description        string     `json:"description"`
	Events             []string   `json:"events"`
	Auth               authView   `json:"auth"`
	SigningSecretSet   bool       `json:"signing_secret_set"`
	Format             string     `json:"format"`
	TimeoutMS          int        `json:"timeout_ms"`
	MaxAttempts        int        `json:"max_attempts"`
	RateLimitPerSecond *int       `json:"rate_limit_per_second"`
	Enabled            bool       `json:"enabled"`
	DisabledReason     string     `json:"disabled_reason"`
	FailingSince       *time.Time `json:"failing_since"`
}

// Label names the endpoint for people: its description, else its URL.
func (e *endpointView) Label() string {
	if e.Description != "" {
		return e.Description
	}
	return e.URL
}

// EventsText is the endpoint's filters as the editor shows them.
func (e *endpointView) EventsText() string { return strings.Join(e.Events, ", ") }

// RateLimit is the rate limit as the editor shows it: empty for none.
func (e *endpointView) RateLimit() string {
	if e.RateLimitPerSecond == nil || *e.RateLimitPerSecond == 0 {
		return ""
	}
	return strconv.Itoa(*e.RateLimitPerSecond)
}

// newEndpointView is a new endpoint's form: the API's defaults.
func newEndpointView() *endpointView {
	return &endpointView{Enabled: true, Auth: authView{Type: string(callout.AuthNone)}, Format: string(callout.FormatEnvelope),
		TimeoutMS: callout.DefaultEndpointTimeoutMS, MaxAttempts: callout.DefaultEndpointMaxAttempts}
}

// endpointEditor is the endpoint page's data.
type endpointEditor struct {
	Endpoint *endpointView
	New      bool
	// Since and Until are the recover form's window.
	Since, Until string
}

// dateTimeLocal is the format of an <input type="datetime-local">; the
// console reads and shows it as UTC.
const dateTimeLocal = "2006-01-02T15:04"

// parseTime reads a time from a form: an input's value taken as UTC, or
// RFC 3339.
func parseTime(v string) (time.Time, bool) {
	for _, layout := range []string{dateTimeLocal, dateTimeLocal + ":05", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// apiTime turns a form's time into the API's RFC 3339; one that is not a
// time is passed on, for the API to refuse beside its field.
func apiTime(v string) string {
	if t, ok := parseTime(v); ok {
		return t.UTC().Format(time.RFC3339)
	}
	return v
}

// endpointBody turns the endpoint form into the body of a POST or PATCH:
// secrets only when typed, filters split at commas and spaces (none: every
// event), an empty rate limit for none.
func endpointBody(r *http.Request) (map[string]any, map[string]string) {
	fields := map[string]string{}
	get := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	number := func(name string) int {
		v := get(name)
		if v == "" && name == "rate_limit_per_second" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			fields[name] = "must be a whole number"
		}
		return n
	}
	filters := splitFilters(get("events"))
	if len(filters) == 0 {
		filters = []string{"*"}
	}
	body := map[string]any{
		"enabled":               r.PostFormValue("enabled") == "true",
		"url":                   get("url"),
		"description":           get("description"),
		"events":                filters,
		"auth":                  authBody(r),
		"format":                get("format"),
		"timeout_ms":            number("timeout_ms"),
		"max_attempts":          number("max_attempts"),
		"rate_limit_per_second": number("rate_limit_per_second"),
	}
	setSigningSecret(r, body)
	return body, fields
}

// splitFilters splits the editor's filters at commas and white space.
func splitFilters(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// formEndpoint shows the form's entries on e, to show a refused form
// again; secrets are not copied.
func formEndpoint(r *http.Request, e *endpointView) {
	get := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	e.Enabled = r.PostFormValue("enabled") == "true"
	e.URL, e.Description, e.Format = get("url"), get("description"), get("format")
	e.Events = splitFilters(get("events"))
	formAuth(r, &e.Auth)
	for name, dst := range map[string]*int{"timeout_ms": &e.TimeoutMS, "max_attempts": &e.MaxAttempts} {
		if n, err := strconv.Atoi(get(name)); err == nil {
			*dst = n
		}
	}
	if n, err := strconv.Atoi(get("rate_limit_per_second")); err == nil {
		e.RateLimitPerSecond = &n
	}
}

// filterFields places the API's field errors on the endpoint form's
// inputs: a filter's error (events[2]) beside the filters.
func filterFields(fields map[string]string) map[string]string {
	for name, msg := range fields {
		if strings.HasPrefix(name, "events[") {
			delete(fields, name)
			fields["events"] = msg
		}
	}
	return fields
}

func (cl *client) endpoint(id string) (*endpointView, error) {
	e := &endpointView{}
	return e, cl.do(http.MethodGet, "/endpoints/"+url.PathEscape(id), nil, e)
}

func (cl *client) endpoints() ([]*endpointView, error) {
	var list struct {
		Endpoints []*endpointView `json:"endpoints"`
	}
	return list.Endpoints, cl.do(http.MethodGet, "/endpoints", nil, &list)
}

func (c *Console) endpoints(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	list, err := cl.endpoints()
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := cl.view(s, "Event endpoints", "endpoints")
	v.Data = list
	c.render(w, r, http.StatusOK, "endpoints", v)
}

// endpointPage renders the endpoint page: the editor, the test and the
// recover forms.
func (c *Console) endpointPage(w http.ResponseWriter, r *http.Request, status int, v *view, ed *endpointEditor) {
	if ed.Since == "" {
		ed.Since = time.Now().UTC().Add(-24 * time.Hour).Format(dateTimeLocal)
	}
	v.Data = ed
	c.render(w, r, status, "endpoint", v)
}

func (c *Console) newEndpoint(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	c.endpointPage(w, r, http.StatusOK, cl.view(s, "New endpoint", "endpoints"), &endpointEditor{Endpoint: newEndpointView(), New: true})
}

func (c *Console) editEndpoint(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	e, err := cl.endpoint(r.PathValue("e"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := cl.view(s, "Endpoint", "endpoints")
	q := r.URL.Query()
	switch {
	case q.Get("saved") == "1":
		v.Notice = "Saved."
	case q.Get("recovered") != "":
		v.Notice = "Failed messages queued again: " + q.Get("recovered") + "."
	}
	c.endpointPage(w, r, http.StatusOK, v, &endpointEditor{Endpoint: e})
}

// saveEndpoint creates (no id in the path) or changes an endpoint.
func (c *Console) saveEndpoint(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	id := r.PathValue("e")
	e, title := newEndpointView(), "New endpoint"
	if id != "" {
		var err error
		if e, err = cl.endpoint(id); err != nil {
			c.fail(w, r, s, err)
			return
		}
		title = "Endpoint"
	}
	body, fields := endpointBody(r)
	if len(fields) == 0 {
		method, path := http.MethodPost, "/endpoints"
		if id != "" {
			method, path = http.MethodPatch, "/endpoints/"+url.PathEscape(id)
		}
		var saved endpointView
		var done bool
		fields, done = c.send(w, r, s, cl, method, path, body, &saved,
			func() string { return "/endpoints/" + url.PathEscape(saved.ID) + "?saved=1" })
		if done {
			return
		}
		fields = filterFields(fields)
	}
	formEndpoint(r, e)
	v := cl.view(s, title, "endpoints")
	v.Error = "The endpoint was not saved: correct the fields marked below."
	v.Fields = fields
	c.endpointPage(w, r, http.StatusUnprocessableEntity, v, &endpointEditor{Endpoint: e, New: id == ""})
}

func (c *Console) recoverEndpoint(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	id := r.PathValue("e")
	e, err := cl.endpoint(id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	ed := &endpointEditor{Endpoint: e, Since: strings.TrimSpace(r.PostFormValue("since")), Until: strings.TrimSpace(r.PostFormValue("until"))}
	fields := map[string]string{}
	body := map[string]any{}
	for name, value := range map[string]string{"since": ed.Since, "until": ed.Until} {
		t, ok := parseTime(value)
		switch {
		case value == "" && name == "until":
		case value == "":
			fields[name] = "is required"
		case !ok:
			fields[name] = "must be a date and time"
		default:
			body[name] = t.UTC().Format(time.RFC3339)
		}
	}
	if len(fields) == 0 {
		var res struct {
			Messages int `json:"messages"`
		}
		var done bool
		fields, done = c.send(w, r, s, cl, http.MethodPost, "/endpoints/"+url.PathEscape(id)+"/recover", body, &res,
			func() string { return "/endpoints/" + url.PathEscape(id) + "?recovered=" + strconv.Itoa(res.Messages) })
		if done {
			return
		}
	}
	v := cl.view(s, "Endpoint", "endpoints")
	v.Error = "Nothing was recovered: correct the fields marked below."
	v.Fields = fields
	c.endpointPage(w, r, http.StatusUnprocessableEntity, v, ed)
}

// attemptView is one attempt as the API reads it.
type attemptView struct {
	ID             string            `json:"id"`
	EventID        string            `json:"event_id"`
	Attempt        int               `json:"attempt"`
	StartedAt      time.Time         `json:"started_at"`
	DurationMS     float64           `json:"duration_ms"`
	HTTPStatus     int               `json:"http_status"`
	Outcome        string            `json:"outcome"`
	Detail         string            `json:"detail"`
	RequestHeaders map[string]string `json:"request_headers"`
	ResponseBody   string            `json:"response_body"`
}

// pingView is the page of an endpoint's test.
type pingView struct {
	Endpoint *endpointView
	Attempt  *attemptView
}

func (c *Console) testEndpoint(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	e, err := cl.endpoint(r.PathValue("e"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var a attemptView
	if err := cl.do(http.MethodPost, "/endpoints/"+url.PathEscape(e.ID)+"/test", nil, &a); err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := cl.view(s, "Test of "+e.Label(), "endpoints")
	v.Data = &pingView{Endpoint: e, Attempt: &a}
	c.render(w, r, http.StatusOK, "ping", v)
}

// attemptOutcomes are the outcomes an attempt may have, for the filter.
var attemptOutcomes = []string{callout.AttemptSucceeded, callout.AttemptHTTPError, callout.AttemptGone,
	string(callout.OutcomeTimeout), string(callout.OutcomeUnreachable), string(callout.OutcomeDestinationBlocked),
	string(callout.OutcomeAuthFailed)}

// attemptsView is the attempts page's data.
type attemptsView struct {
	Endpoint *endpointView
	Status   string
	Outcomes []string
	Attempts []*attemptView
	Next     template.URL // the query of the next page; "" for none
}

func (c *Console) attempts(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	e, err := cl.endpoint(r.PathValue("e"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	q := r.URL.Query()
	d := &attemptsView{Endpoint: e, Status: q.Get("status"), Outcomes: attemptOutcomes}
	filter := listQuery(map[string]string{"status": d.Status, "cursor": q.Get("cursor")})
	v := cl.view(s, "Attempts to "+e.Label(), "endpoints")
	v.Data = d
	var page struct {
		Attempts   []*attemptView `json:"attempts"`
		NextCursor *string        `json:"next_cursor"`
	}
	if !c.readList(w, r, s, cl, v, "attempts", "/endpoints/"+url.PathEscape(e.ID)+"/attempts?"+filter.Encode(), &page) {
		return
	}
	d.Attempts = page.Attempts
	d.Next = nextQuery(filter, page.NextCursor)
	c.render(w, r, http.StatusOK, "attempts", v)
}

// eventView is an event as the API reads it, with its messages.
type eventView struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	Endpoints []*messageView  `json:"endpoints"`
}

// messageView is where an event's message to one endpoint stands.
type messageView struct {
	EndpointID     string     `json:"endpoint_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastHTTPStatus int        `json:"last_http_status"`
	LastOutcome    string     `json:"last_outcome"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	// Endpoint is the endpoint, nil when it was removed.
	Endpoint *endpointView `json:"-"`
}

func (cl *client) event(id string) (*eventView, error) {
	ev := &eventView{}
	return ev, cl.do(http.MethodGet, "/events/"+url.PathEscape(id), nil, ev)
}

// eventsView is the event log's data.
type eventsView struct {
	Event, Since, Until string
	Events              []*eventView
	Next                template.URL // the query of the next page; "" for none
}

func (c *Console) events(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	q := r.URL.Query()
	d := &eventsView{Event: strings.TrimSpace(q.Get("event")), Since: q.Get("since"), Until: q.Get("until")}
	filter := listQuery(map[string]string{"event": d.Event, "since": apiTime(d.Since), "until": apiTime(d.Until), "cursor": q.Get("cursor")})
	v := cl.view(s, "Event log", "events")
	v.Data = d
	var page struct {
		Events     []*eventView `json:"events"`
		NextCursor *string      `json:"next_cursor"`
	}
	if !c.readList(w, r, s, cl, v, "events", "/events?"+filter.Encode(), &page) {
		return
	}
	// The log lists events alone; each row shows its messages too, read
	// in process (a page holds at most listSize).
	for i, ev := range page.Events {
		var err error
		if page.Events[i], err = cl.event(ev.ID); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	d.Events = page.Events
	// The console's own filters, as the person typed them.
	d.Next = nextQuery(q, page.NextCursor)
	c.render(w, r, http.StatusOK, "events", v)
}

// eventPage is the event page's data.
type eventPage struct {
	Event     *eventView
	Endpoints []*endpointView
}

func (c *Console) event(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	ev, err := cl.event(r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	eps, err := cl.endpoints()
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	for _, m := range ev.Endpoints {
		for _, e := range eps {
			if e.ID == m.EndpointID {
				m.Endpoint = e
			}
		}
	}
	v := cl.view(s, "Event "+ev.ID, "events")
	if n := r.URL.Query().Get("redelivered"); n != "" {
		v.Notice = "Queued for delivery again: " + n + " message(s)."
	}
	v.Data = &eventPage{Event: ev, Endpoints: eps}
	c.render(w, r, http.StatusOK, "event", v)
}

func (c *Console) redeliver(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	id := r.PathValue("id")
	body := map[string]string{}
	if e := r.PostFormValue("endpoint_id"); e != "" {
		body["endpoint_id"] = e
	}
	var res struct {
		Messages int `json:"messages"`
	}
	if _, done := c.send(w, r, s, cl, http.MethodPost, "/events/"+url.PathEscape(id)+"/redeliver", body, &res,
		func() string { return "/events/" + url.PathEscape(id) + "?redelivered=" + strconv.Itoa(res.Messages) }); !done {
		// The form has no field of the API's to show a 422 beside.
		c.fail(w, r, s, &problemError{Status: http.StatusUnprocessableEntity, Detail: "The event could not be redelivered."})
	}
}

// eventTypeView is an entry of the catalogue.
type eventTypeView struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Example     json.RawMessage `json:"example"`
	Builtin     bool            `json:"builtin"`
}

func (c *Console) eventTypes(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	var list struct {
		EventTypes []*eventTypeView `json:"event_types"`
	}
	if err := cl.doPath(http.MethodGet, "/v1/event-types", nil, &list); err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := cl.view(s, "Event types", "event-types")
	v.Data = list.EventTypes
	c.render(w, r, http.StatusOK, "eventtypes", v)
}
