package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callout/callout"
	"github.com/callout/callout/probe"
)

// view is what every page template gets.
type view struct {
	Page    string // the page's template, named on its body for tests and styles
	Session *session
	Tenant  *tenantView // nil outside a manufacturer's pages
	Title   string
	Nav     string // the active section: webhooks, deliveries, jobs, endpoints, events, event-types
	Notice  string // a success to report
	Error   string // a failure to report above the content
	// Fields holds the API's message for each bad field, shown beside it.
	Fields map[string]string
	Data   any
}

// pageNames are the page templates, each rendered inside layout.html.
var pageNames = []string{"signin", "signedin", "error", "home", "overview", "webhook", "test", "deliveries", "delivery", "jobs", "job",
	"endpoints", "endpoint", "ping", "attempts", "events", "event", "eventtypes"}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ms": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" },
	"outcomeClass": func(o callout.Outcome) string {
		switch o {
		case callout.OutcomeAccepted:
			return "good"
		case callout.OutcomeRejected:
			return "warn"
		case "":
			return "none"
		}
		return "bad"
	},
	// statusClass colours a message status or an attempt outcome.
	"statusClass": func(s string) string {
		switch s {
		case callout.AttemptSucceeded:
			return "good"
		case string(callout.MessagePending), string(callout.MessageDelivering), callout.AttemptGone:
			return "warn"
		case string(callout.MessageCancelled), "":
			return "none"
		}
		return "bad"
	},
	// fe is what the fielderror template needs: the page's field errors,
	// the field's API name and its input's id.
	"fe": func(v *view, name, id string) map[string]any {
		return map[string]any{"Fields": v.Fields, "Name": name, "ID": id}
	},
	// sub is the view for a shared part of a page (templates/secrets.html):
	// the page's field errors, with data of the part's own.
	"sub": func(v *view, data any) *view {
		part := *v
		part.Data = data
		return &part
	},
	"deref": func(b *bool) bool { return b != nil && *b },
	"list":  func(s ...string) []string { return s },
	"pretty": func(s string) string {
		var b bytes.Buffer
		if json.Indent(&b, []byte(s), "", "  ") == nil {
			return b.String()
		}
		return s
	},
}

func (c *Console) parse() error {
	c.pages = make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/tree.html", "templates/secrets.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("console: parsing the %s page: %w", name, err)
		}
		c.pages[name] = t
	}
	return nil
}

// render writes a page; a page is built whole before it is sent, so that a
// template failure becomes an error page, not half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	var b bytes.Buffer
	v.Page = name
	if err := c.pages[name].Execute(&b, v); err != nil {
		c.log.ErrorContext(r.Context(), "rendering a console page", "page", name, "error", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// view starts the view of a page of the client's manufacturer.
func (cl *client) view(s *session, title, nav string) *view {
	return &view{Session: s, Tenant: &tenantView{ID: cl.m, Name: cl.name}, Title: title, Nav: nav}
}

// webhookView is a webhook config as the API reads it, secrets redacted.
type webhookView struct {
	ManufacturerID      string       `json:"manufacturer_id"`
	Kind                callout.Kind `json:"kind"`
	Enabled             bool         `json:"enabled"`
	URL                 string       `json:"url"`
	Auth                authView     `json:"auth"`
	ExportFormat        string       `json:"export_format"`
	TimeoutMS           int          `json:"timeout_ms"`
	Retries             int          `json:"retries"`
	GenericErrorMessage string       `json:"generic_error_message"`
	Breaker             struct {
		ConsecutiveFailures int `json:"consecutive_failures"`
		OpenSeconds         int `json:"open_seconds"`
	} `json:"breaker"`
	SigningSecretSet bool      `json:"signing_secret_set"`
	CacheSeconds     int       `json:"cache_seconds"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// authView is the authentication of a webhook or an endpoint as the API
// reads it, secrets shown only as set.
type authView struct {
	Type           string     `json:"type"`
	BearerTokenSet *bool      `json:"bearer_token_set"`
	Auth0          *auth0View `json:"auth0"`
}

type auth0View struct {
	TenantDomain    string `json:"tenant_domain"`
	ClientID        string `json:"client_id"`
	ClientSecretSet bool   `json:"client_secret_set"`
	Audience        string `json:"audience"`
}

// webhook reads the webhook of kind; a webhook not configured yet reads as
// its defaults, with configured false.
func (cl *client) webhook(kind callout.Kind) (w *webhookView, configured bool, err error) {
	w = &webhookView{}
	err = cl.do(http.MethodGet, "/webhooks/"+url.PathEscape(string(kind)), nil, w)
	var pe *problemError
	if errors.As(err, &pe) && pe.Code == callout.ECodeNotFound && kind.Valid() {
		d := callout.NewWebhook(cl.m, kind)
		w = &webhookView{ManufacturerID: cl.m, Kind: kind, Enabled: true, ExportFormat: string(d.ExportFormat),
			TimeoutMS: d.TimeoutMS, Retries: d.Retries, GenericErrorMessage: d.GenericErrorMessage}
		w.Auth.Type = string(callout.AuthBearer)
		w.Breaker.ConsecutiveFailures, w.Breaker.OpenSeconds = d.Breaker.ConsecutiveFailures, d.Breaker.OpenSeconds
		return w, false, nil
	}
	return w, err == nil, err
}

// breakerState is the state of the webhook's breaker in this process.
func (c *Console) breakerState(w *webhookView) string {
	if c.breakers == nil {
		return "unknown"
	}
	return c.breakers.BreakerState(&callout.Webhook{ManufacturerID: w.ManufacturerID, Kind: w.Kind, URL: w.URL,
		Breaker:   callout.BreakerSettings{ConsecutiveFailures: w.Breaker.ConsecutiveFailures, OpenSeconds: w.Breaker.OpenSeconds},
		UpdatedAt: w.UpdatedAt})
}

// deliveryPage is one page of deliveries as the API lists them.
type deliveryPage struct {
	Deliveries []*callout.Delivery `json:"deliveries"`
	NextCursor *string             `json:"next_cursor"`
}

// card is one webhook on the overview.
type card struct {
	Kind       callout.Kind
	Configured bool
	Webhook    *webhookView
	Breaker    string
	Last       *callout.Delivery
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	var cards []card
	for _, kind := range []callout.Kind{callout.KindPricing, callout.KindSubmission} {
		wh, configured, err := cl.webhook(kind)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		cd := card{Kind: kind, Configured: configured, Webhook: wh, Breaker: c.breakerState(wh)}
		var page deliveryPage
		if err := cl.do(http.MethodGet, "/deliveries?limit=1&kind="+string(kind), nil, &page); err != nil {
			c.fail(w, r, s, err)
			return
		}
		if len(page.Deliveries) > 0 {
			cd.Last = page.Deliveries[0]
		}
		cards = append(cards, cd)
	}
	v := cl.view(s, "Webhooks", "webhooks")
	v.Data = cards
	c.render(w, r, http.StatusOK, "overview", v)
}

// editor is the webhook editor's data.
type editor struct {
	Webhook    *webhookView
	Configured bool
	Breaker    string
}

func (c *Console) editWebhook(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	kind := callout.Kind(r.PathValue("kind"))
	wh, configured, err := cl.webhook(kind)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := cl.view(s, strings.ToUpper(string(kind[:1]))+string(kind[1:])+" webhook", "webhooks")
	if r.URL.Query().Get("saved") == "1" {
		v.Notice = "Saved."
	}
	v.Data = &editor{Webhook: wh, Configured: configured, Breaker: c.breakerState(wh)}
	c.render(w, r, http.StatusOK, "webhook", v)
}

func (c *Console) saveWebhook(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	kind := callout.Kind(r.PathValue("kind"))
	stored, configured, err := cl.webhook(kind)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	body, fields := webhookPatch(r, kind)
	if len(fields) == 0 {
		method := http.MethodPatch
		if !configured {
			method = http.MethodPut
		}
		var done bool
		fields, done = c.send(w, r, s, cl, method, "/webhooks/"+url.PathEscape(string(kind)), body, nil,
			func() string { return "/webhooks/" + string(kind) + "?saved=1" })
		if done {
			return
		}
	}
	// Shown again as entered, but for the secrets, which are never sent
	// back to a browser.
	formWebhook(r, stored)
	v := cl.view(s, strings.ToUpper(string(kind[:1]))+string(kind[1:])+" webhook", "webhooks")
	v.Error = "The webhook was not saved: correct the fields marked below."
	v.Fields = fields
	v.Data = &editor{Webhook: stored, Configured: configured, Breaker: c.breakerState(stored)}
	c.render(w, r, http.StatusUnprocessableEntity, "webhook", v)
}

// send makes a change through the API, with body, decoding the answer
// into out (nil to ignore it). Once it is made, the browser goes to the
// manufacturer's page next returns (post, redirect, get: reloading that
// page does not post again); a 422's fields are returned, to show the form
// again beside them; any other error is shown. done reports that the
// answer is written.
func (c *Console) send(w http.ResponseWriter, r *http.Request, s *session, cl *client, method, path string, body, out any,
	next func() string) (fields map[string]string, done bool) {
	err := cl.do(method, path, body, out)
	var pe *problemError
	switch {
	case err == nil:
		http.Redirect(w, r, "/console/m/"+cl.m+next(), http.StatusSeeOther)
		return nil, true
	case errors.As(err, &pe) && pe.Status == http.StatusUnprocessableEntity:
		return pe.fields(), false
	}
	c.fail(w, r, s, err)
	return nil, true
}

func (c *Console) testWebhook(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	kind := callout.Kind(r.PathValue("kind"))
	body := map[string]string{}
	if job := strings.TrimSpace(r.PostFormValue("job_id")); job != "" {
		body["job_id"] = job
	}
	var report probe.Report
	err := cl.do(http.MethodPost, "/webhooks/"+url.PathEscape(string(kind))+"/test", body, &report)
	v := cl.view(s, "Test of the "+string(kind)+" webhook", "webhooks")
	var pe *problemError
	switch {
	case errors.As(err, &pe) && pe.Status == http.StatusUnprocessableEntity:
		v.Error, v.Fields = pe.Detail, pe.fields()
	case err != nil:
		c.fail(w, r, s, err)
		return
	}
	v.Data = &testView{Kind: kind, Report: &report, JobID: body["job_id"]}
	c.render(w, r, http.StatusOK, "test", v)
}

type testView struct {
	Kind   callout.Kind
	JobID  string
	Report *probe.Report
}

// deliveriesView is the deliveries page's data.
type deliveriesView struct {
	Kind, Job, Outcome string
	Outcomes           []callout.Outcome
	Page               deliveryPage
	Next               template.URL // the query of the next page; "" for none
}

var outcomes = []callout.Outcome{callout.OutcomeAccepted, callout.OutcomeRejected, callout.OutcomeWebhookError,
	callout.OutcomeBadResponse, callout.OutcomeAuthFailed, callout.OutcomeTimeout, callout.OutcomeUnreachable,
	callout.OutcomeDestinationBlocked}

func (c *Console) deliveries(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	q := r.URL.Query()
	d := &deliveriesView{Kind: q.Get("kind"), Job: strings.TrimSpace(q.Get("job")), Outcome: q.Get("outcome"), Outcomes: outcomes}
	filter := listQuery(map[string]string{"kind": d.Kind, "job": d.Job, "outcome": d.Outcome, "cursor": q.Get("cursor")})
	v := cl.view(s, "Deliveries", "deliveries")
	v.Data = d
	if !c.readList(w, r, s, cl, v, "deliveries", "/deliveries?"+filter.Encode(), &d.Page) {
		return
	}
	d.Next = nextQuery(filter, d.Page.NextCursor)
	c.render(w, r, http.StatusOK, "deliveries", v)
}

// listSize is how many rows a page of a list shows.
const listSize = "25"

// listQuery is the API query of one page of a list: the filters given, and
// the page's size.
func listQuery(filters map[string]string) url.Values {
	q := url.Values{"limit": {listSize}}
	for k, v := range filters {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// nextQuery is the console's query of the list's next page, "" for none.
// It is a template.URL: the template's href="?{{.}}" keeps its = and &
// (a string there is escaped as one query value, a link to the first page).
func nextQuery(filter url.Values, cursor *string) template.URL {
	if cursor == nil {
		return ""
	}
	next := url.Values{}
	for k, v := range filter {
		next[k] = v
	}
	next.Del("limit")
	next.Set("cursor", *cursor)
	return template.URL(next.Encode())
}

// readList reads one page of a list into out, or renders the page name
// with the filter the API refused marked (422), or an error page: it
// reports whether the caller is to render the list.
func (c *Console) readList(w http.ResponseWriter, r *http.Request, s *session, cl *client, v *view, name, path string, out any) bool {
	err := cl.do(http.MethodGet, path, nil, out)
	var pe *problemError
	switch {
	case errors.As(err, &pe) && pe.Status == http.StatusUnprocessableEntity:
		v.Fields = pe.fields()
		c.render(w, r, http.StatusUnprocessableEntity, name, v)
		return false
	case err != nil:
		c.fail(w, r, s, err)
		return false
	}
	return true
}

func (c *Console) delivery(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	var d callout.Delivery
	if err := cl.do(http.MethodGet, "/deliveries/"+url.PathEscape(r.PathValue("id")), nil, &d); err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := cl.view(s, "Delivery "+d.ID, "deliveries")
	v.Data = &d
	c.render(w, r, http.StatusOK, "delivery", v)
}

func (c *Console) findJob(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	v := cl.view(s, "Jobs", "jobs")
	if id := strings.TrimSpace(r.URL.Query().Get("id")); id != "" {
		if callout.ValidID(id) {
			http.Redirect(w, r, "/console/m/"+cl.m+"/jobs/"+id, http.StatusSeeOther)
			return
		}
		v.Fields = map[string]string{"id": "must be a job id: 1 to 64 letters, digits, '.', '_' or '-'"}
		v.Data = id
		c.render(w, r, http.StatusUnprocessableEntity, "jobs", v)
		return
	}
	c.render(w, r, http.StatusOK, "jobs", v)
}

// jobView is the job resource as the API reads it.
type jobView struct {
	ID          string            `json:"id"`
	CustomerID  string            `json:"customer_id"`
	Status      callout.JobStatus `json:"status"`
	SubmittedAt *time.Time        `json:"submitted_at"`
	ExternalID  *string           `json:"external_id"`
	Messages    []callout.Message `json:"messages"`
	Pricing     *struct {
		Cost      json.Number             `json:"cost"`
		Messages  []string                `json:"messages"`
		Breakdown []callout.BreakdownNode `json:"breakdown"`
		Source    callout.PricingSource   `json:"source"`
		PricedAt  time.Time               `json:"priced_at"`
	} `json:"pricing"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (c *Console) job(w http.ResponseWriter, r *http.Request, s *session, cl *client) {
	var j jobView
	if err := cl.do(http.MethodGet, "/jobs/"+url.PathEscape(r.PathValue("j")), nil, &j); err != nil {
		c.fail(w, r, s, err)
		return
	}
	v := cl.view(s, "Job "+j.ID, "jobs")
	v.Data = &j
	c.render(w, r, http.StatusOK, "job", v)
}
