package webhook

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/callout/callout"
)

// EventRequest is one attempt of an event message (README: Events).
type EventRequest struct {
	// Endpoint is the subscription with its secrets; it must not be nil.
	Endpoint *callout.Endpoint
	// EventID is sent as webhook-id on every attempt to every endpoint.
	EventID   string
	EventType string
	// Body is the formatted body (callout.EventBody).
	Body []byte
	// Attempt is the attempt's number, from 1, sent as X-Callout-Attempt.
	Attempt int
}

// EventResult is how one attempt went. It never holds a secret: the request
// headers are recorded with credentials and signatures redacted, and secrets
// a receiver echoes are redacted from the answer.
type EventResult struct {
	// Outcome is callout.AttemptSucceeded (any 2xx), AttemptGone (410),
	// AttemptHTTPError (any other status), or the transport outcome:
	// webhook_timeout, webhook_unreachable, destination_blocked,
	// auth_failed, or circuit_open when no request was made.
	Outcome    string
	HTTPStatus int
	Detail     string
	// RetryAfter is the receiver's Retry-After, or for circuit_open the
	// time until the breaker lets a trial through.
	RetryAfter     time.Duration
	RequestHeaders map[string]string
	// ResponseBody is the first callout.ResponseBodyLimit bytes of the
	// answer.
	ResponseBody []byte
	StartedAt    time.Time
	Duration     time.Duration
}

// Attempted reports whether the attempt counts: false when the breaker kept
// the request from being made.
func (r *EventResult) Attempted() bool { return r.Outcome != string(callout.OutcomeCircuitOpen) }

// bytesBody is a Body held in memory.
type bytesBody []byte

func (b bytesBody) Len() int64        { return int64(len(b)) }
func (b bytesBody) Reader() io.Reader { return bytes.NewReader(b) }

// Deliver makes one attempt of an event message: one POST (two when an
// Auth0 token is refused and a fresh one is fetched), bounded by the
// endpoint's timeout, through the endpoint's circuit breaker. Success is any
// 2xx; the answer is not interpreted. Redirects are not followed.
func (c *Client) Deliver(ctx context.Context, r *EventRequest) *EventResult {
	w := r.Endpoint.AsWebhook()
	cl := &call{c: c, w: w, id: r.EventID, res: &Result{StartedAt: c.now()},
		r: &Request{Webhook: w, Body: bytesBody(r.Body), DeliveryID: r.EventID}}
	out := &EventResult{StartedAt: cl.res.StartedAt}
	defer c.finishEvent(ctx, cl, r, out)
	if !cl.preflight() {
		return out
	}
	b := c.breakers.get(w)
	done, err := b.cb.Allow()
	if err != nil {
		cl.circuitOpen(b, err)
		out.RetryAfter = cl.res.RetryAfter
		return out
	}
	verdict := errBreakerExclude
	defer func() { done(verdict) }()

	ctx, cancel := context.WithTimeoutCause(ctx, cl.timeout(), errCalloutTimeout)
	defer cancel()
	auth0 := w.Auth.Type == callout.AuthAuth0
	if auth0 && !cl.fetchToken(ctx) {
		verdict = cl.verdict()
		return out
	}
	a := cl.eventAttempt(ctx, r, out)
	if auth0 && a.err == nil && (a.status == http.StatusUnauthorized || a.status == http.StatusForbidden) {
		c.tokens.Invalidate(w.Auth.Auth0, cl.token)
		if !cl.fetchToken(ctx) {
			verdict = cl.verdict()
			return out
		}
		a = cl.eventAttempt(ctx, r, out)
	}
	cl.settleEvent(ctx, a, out)
	verdict = cl.verdict()
	return out
}

// eventAttempt makes one request with the event headers, and records them,
// redacted, in out.
func (cl *call) eventAttempt(ctx context.Context, r *EventRequest, out *EventResult) attempt {
	start := cl.c.now()
	req, err := cl.newRequest(ctx)
	if err != nil {
		cl.excluded = true
		return attempt{err: err}
	}
	h := req.Header
	h.Del("Accept")
	h.Del("X-Callout-Delivery")
	h.Set(headerWebhookID, r.EventID)
	if h.Get(headerWebhookTimestamp) == "" {
		h.Set(headerWebhookTimestamp, strconv.FormatInt(start.Unix(), 10))
	}
	h.Set("X-Callout-Event", r.EventType)
	h.Set("X-Callout-Attempt", strconv.Itoa(r.Attempt))
	out.RequestHeaders = make(map[string]string, len(h))
	for k := range h {
		v := h.Get(k)
		if k == "Authorization" || strings.EqualFold(k, headerWebhookSignature) {
			v = callout.Redacted
		}
		out.RequestHeaders[k] = v
	}
	resp, err := cl.c.hc.Do(req)
	if err != nil {
		return attempt{err: err, took: cl.c.now().Sub(start)}
	}
	defer resp.Body.Close()
	a := attempt{status: resp.StatusCode, header: resp.Header}
	a.body, a.tooLarge, a.err = readBody(resp.Body, resp.ContentLength, int64(callout.ResponseBodyLimit+redactMargin))
	if a.tooLarge {
		// Only the start is kept: a long answer is no failure here.
		a.tooLarge = false
		io.Copy(io.Discard, io.LimitReader(resp.Body, cl.c.maxResponse))
	}
	a.took = cl.c.now().Sub(start)
	return a
}

// settleEvent records how the attempt went. The callout's own outcome is
// set too, for the breaker's verdict: a 5xx or 429 counts against the
// endpoint, another answer does not.
func (cl *call) settleEvent(ctx context.Context, a attempt, out *EventResult) {
	cl.body = head(a.body, callout.ResponseBodyLimit+redactMargin)
	cl.res.HTTPStatus = a.status
	switch {
	case cl.settleFailed(ctx, a):
	case a.status >= 200 && a.status < 300:
		cl.res.Outcome = callout.OutcomeAccepted
		out.Outcome = callout.AttemptSucceeded
	case a.status == http.StatusGone:
		cl.fail(callout.OutcomeRejected, "HTTP 410: the endpoint is gone; the message is not retried")
		out.Outcome = callout.AttemptGone
	case a.status >= 300 && a.status < 400:
		cl.fail(callout.OutcomeWebhookError, "HTTP %d: %s", a.status, redirectDetail(a.header.Get("Location")))
		out.Outcome = callout.AttemptHTTPError
	default:
		cl.fail(callout.OutcomeWebhookError, "HTTP %d", a.status)
		out.Outcome = callout.AttemptHTTPError
		if ra, ok := retryAfterHeader(a.header, cl.c.now()); ok {
			out.RetryAfter = ra
		}
	}
}

// finishEvent completes the result, removes secrets and logs it.
func (c *Client) finishEvent(ctx context.Context, cl *call, r *EventRequest, out *EventResult) {
	res := cl.res
	if out.Outcome == "" {
		out.Outcome = string(res.Outcome)
	}
	out.HTTPStatus = res.HTTPStatus
	out.Detail = res.Detail
	out.Duration = c.now().Sub(out.StartedAt)
	redact(res, cl.body, cl.secrets)
	out.Detail, out.ResponseBody = res.Detail, res.ResponseBody
	level := slog.LevelInfo
	if out.Outcome == callout.AttemptSucceeded {
		level = slog.LevelDebug
	}
	c.log.LogAttrs(ctx, level, "event attempt",
		slog.String("manufacturer", r.Endpoint.ManufacturerID),
		slog.String("endpoint", r.Endpoint.ID),
		slog.String("event_id", r.EventID),
		slog.Int("attempt", r.Attempt),
		slog.String("outcome", out.Outcome),
		slog.Int("http_status", out.HTTPStatus),
		slog.Float64("duration_ms", float64(out.Duration)/float64(time.Millisecond)),
		slog.String("detail", out.Detail),
	)
}
