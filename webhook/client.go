// Package webhook makes every call Callout makes to a manufacturer's webhook:
// it authenticates (bearer token or Auth0), signs (Standard Webhooks), bounds
// the whole callout by the webhook's timeout, retries where that is safe,
// keeps one circuit breaker per webhook, enforces the SSRF policy and the
// answer size limit, and interprets the answer, all as docs/manufacturers.md
// tells manufacturers. It knows nothing of jobs or pricing beyond the
// answer's shape, so that event webhooks can be delivered through it too.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/callout/callout"
	"github.com/callout/callout/answer"
)

// Tokens hands out Auth0 access tokens, cached and shared between callouts.
// *auth0.Tokens is one. An error from Token must never hold a secret: its
// text is shown to administrators.
type Tokens interface {
	// Token returns a valid access token for the credentials.
	Token(ctx context.Context, a callout.Auth0) (string, error)
	// Invalidate drops token from the cache when it is still the cached one,
	// because the webhook refused it.
	Invalidate(a callout.Auth0, token string)
}

// Body is an outbound payload that can be read any number of times: once to
// sign it and once per attempt. *payload.Body is one.
type Body interface {
	// Len is the length of the body in bytes.
	Len() int64
	// Reader returns a new reader of the whole body.
	Reader() io.Reader
}

// DefaultUserAgent is sent when Options.UserAgent is empty.
const DefaultUserAgent = "callout"

// Retry tuning (docs/manufacturers.md, "Timeouts, retries and the circuit breaker").
const (
	// maxDialRetries bounds the retries of a submission whose connection could
	// not be made: the only failure after which it is certainly safe to repeat.
	maxDialRetries = 2
	// minRetryPause and retryJitter give the pause before a retry: long
	// enough for a restarting server, short against any webhook timeout.
	minRetryPause = 50 * time.Millisecond
	retryJitter   = 100 * time.Millisecond
	// minAttempt is the least time worth giving another attempt.
	minAttempt = 50 * time.Millisecond
)

// Options configure a Client. The zero value works for webhooks without
// Auth0, on the default policy.
type Options struct {
	// HTTPClient makes the requests; nil means NewHTTPClient(Policy). It
	// should not follow redirects.
	HTTPClient *http.Client
	// Policy is checked on every webhook URL before a request is made; the
	// address check happens in HTTPClient.
	Policy Policy
	// Tokens is needed for auth0 webhooks.
	Tokens Tokens
	// MaxResponseBytes bounds an answer's body (default 1 MiB).
	MaxResponseBytes int64
	// UserAgent is sent on every request, such as "callout/1.2.0".
	UserAgent string
	// Logger receives a line per callout and a warning per breaker change;
	// nil discards them.
	Logger *slog.Logger
	// OnCallout, when set, is called after every callout, for metrics.
	OnCallout func(w *callout.Webhook, r *Result)
	// OnBreakerChange, when set, is called when a webhook's breaker changes
	// state ("closed", "half-open", "open"). It runs under the breaker's
	// lock: it must return quickly and must not call the Client.
	OnBreakerChange func(manufacturer string, kind callout.Kind, from, to string)
	// Now is the clock of timestamps, signatures, Retry-After, attempt
	// timing and the time left for a retry; nil means time.Now.
	Now func() time.Time
	// Jitter returns the pause before a retry, unless the webhook's
	// Retry-After asks for a longer one; nil means a random pause of 50 to
	// 150 ms, so that callouts failing together do not retry together.
	Jitter func() time.Duration
	// After waits as time.After does; the pause before a retry is taken on
	// it. Nil means time.After. Tests move their clock instead of sleeping.
	After func(time.Duration) <-chan time.Time
}

// Client calls manufacturers' webhooks. It is safe for concurrent use and
// keeps one circuit breaker per webhook for the life of the process.
type Client struct {
	hc          *http.Client
	policy      Policy
	tokens      Tokens
	maxResponse int64
	userAgent   string
	log         *slog.Logger
	onCallout   func(*callout.Webhook, *Result)
	now         func() time.Time
	jitter      func() time.Duration
	after       func(time.Duration) <-chan time.Time
	breakers    *breakers
}

// New returns a Client configured by o.
func New(o Options) *Client {
	c := &Client{
		hc:          o.HTTPClient,
		policy:      o.Policy,
		tokens:      o.Tokens,
		maxResponse: o.MaxResponseBytes,
		userAgent:   o.UserAgent,
		log:         o.Logger,
		onCallout:   o.OnCallout,
		now:         o.Now,
		jitter:      o.Jitter,
		after:       o.After,
	}
	if c.hc == nil {
		c.hc = NewHTTPClient(o.Policy)
	}
	if c.maxResponse <= 0 {
		c.maxResponse = callout.DefaultMaxResponseBytes
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.jitter == nil {
		c.jitter = func() time.Duration { return minRetryPause + rand.N(retryJitter) }
	}
	if c.after == nil {
		c.after = time.After
	}
	c.breakers = &breakers{now: c.now, log: c.log, onChange: o.OnBreakerChange}
	return c
}

// Request is one callout to make.
type Request struct {
	// Webhook is the endpoint with its secrets; it must not be nil.
	Webhook *callout.Webhook
	// Body is the JSON payload; nil sends an empty body.
	Body Body
	// DeliveryID names the callout: X-Callout-Delivery and webhook-id. A
	// random one is used when it is empty.
	DeliveryID string
	// RequestID is the platform's request id, sent as X-Request-Id.
	RequestID string
	// IdempotencyKey, when set, is sent as Idempotency-Key on every attempt.
	IdempotencyKey string
}

// Result is how a callout went. It never holds a secret: known secrets that a
// webhook echoes back are redacted.
type Result struct {
	// Outcome is how the callout ended.
	Outcome callout.Outcome
	// HTTPStatus is the status of the last attempt's answer, 0 when none came.
	HTTPStatus int
	// Attempts counts the requests made, retries included; 0 when none was.
	Attempts int
	// Answer is the interpreted answer of the last attempt, zero when the
	// last attempt brought no answer that could be read.
	Answer answer.Answer
	// Warnings are the answer's warnings, then the client's (retries).
	Warnings []string
	// Detail tells an administrator why the callout failed.
	Detail string
	// ResponseBody is the first callout.ResponseBodyLimit bytes of the last
	// answer's body.
	ResponseBody []byte
	// StartedAt is when the callout began, by Options.Now.
	StartedAt time.Time
	// Duration is how long the callout took, all attempts included.
	Duration time.Duration
	// RetryAfter is, for circuit_open, the time until the breaker lets a
	// trial callout through.
	RetryAfter time.Duration
}

// Call makes one callout and reports how it went; the outcome says whether
// it failed. The webhook's timeout bounds all of it: the token fetch, every
// attempt and the pauses between them.
func (c *Client) Call(ctx context.Context, r *Request) *Result {
	cl := &call{c: c, r: r, w: r.Webhook, res: &Result{StartedAt: c.now()}, id: r.DeliveryID}
	if cl.id == "" {
		cl.id = uuid.NewString()
	}
	defer cl.finish(ctx)
	if !cl.preflight() {
		return cl.res
	}
	b := c.breakers.get(cl.w)
	done, err := b.cb.Allow()
	if err != nil {
		cl.circuitOpen(b, err)
		return cl.res
	}
	// A panic below must still end the breaker's trial, or a half-open
	// breaker would refuse every later callout.
	verdict := errBreakerExclude
	defer func() { done(verdict) }()
	cl.run(ctx)
	verdict = cl.verdict()
	return cl.res
}

// errCalloutTimeout is the cause of the callout's own deadline, told apart
// from a deadline or cancellation of the caller's context.
var errCalloutTimeout = errors.New("webhook timeout")

// call is the state of one callout.
type call struct {
	c   *Client
	r   *Request
	w   *callout.Webhook
	res *Result
	id  string

	signer   *signer
	deadline time.Time // when the callout's time is up, by Client.now
	token    string    // the current Auth0 token
	body     []byte    // the start of the last answer's body, not yet redacted
	secrets  []string  // redacted from the result
	warnings []string  // the client's own, added after the answer's
	// excluded marks a callout that says nothing about the webhook's health
	// (a blocked destination, a cancelling caller, a local setup error).
	excluded bool
}

// timeout bounds the whole callout: the webhook's timeout_ms, or its kind's
// default when unset.
func (cl *call) timeout() time.Duration {
	if d := cl.w.Timeout(); d > 0 {
		return d
	}
	return cl.w.DefaultTimeout()
}

func (cl *call) fail(o callout.Outcome, format string, args ...any) {
	cl.res.Outcome = o
	cl.res.Detail = fmt.Sprintf(format, args...)
}

func (cl *call) warn(format string, args ...any) {
	cl.warnings = append(cl.warnings, fmt.Sprintf(format, args...))
}

// preflight checks what needs no network: the URL against the policy and the
// webhook's credentials. Failures here are never counted by the breaker.
func (cl *call) preflight() bool {
	w := cl.w
	switch w.Auth.Type {
	case callout.AuthBearer:
		cl.addSecret(w.Auth.BearerToken)
	case callout.AuthAuth0:
		cl.addSecret(w.Auth.Auth0.ClientSecret)
	}
	cl.addSecret(w.SigningSecret)
	cl.addSecret(strings.TrimPrefix(w.SigningSecret, "whsec_"))

	cl.excluded = true
	// The host is left to the dialer, which checks the address it dials,
	// literal or resolved.
	_, err := cl.c.policy.URLPolicy().CheckURL(w.URL)
	var ue *callout.URLError
	switch {
	case err == nil:
	case errors.As(err, &ue) && ue.Rule == callout.URLNotAbsolute:
		cl.fail(callout.OutcomeDestinationBlocked, "the webhook URL is not an absolute URL; no request was sent")
		return false
	case errors.As(err, &ue) && ue.Rule == callout.URLCredentials:
		cl.fail(callout.OutcomeDestinationBlocked, "the webhook URL carries credentials, which Callout never sends; configure them under auth")
		return false
	default:
		cl.fail(callout.OutcomeDestinationBlocked, "destination blocked: %v; no request was sent", err)
		return false
	}
	switch w.Auth.Type {
	case "", callout.AuthNone:
	case callout.AuthBearer:
		if w.Auth.BearerToken == "" {
			cl.fail(callout.OutcomeAuthFailed, "the webhook has no bearer token configured; no request was sent")
			return false
		}
	case callout.AuthAuth0:
		if cl.c.tokens == nil {
			cl.fail(callout.OutcomeAuthFailed, "Callout has no Auth0 token source configured; no request was sent")
			return false
		}
	default:
		cl.fail(callout.OutcomeAuthFailed, "the webhook's auth type %q is unknown; no request was sent", w.Auth.Type)
		return false
	}
	if w.SigningSecret != "" {
		key, err := callout.SigningKey(w.SigningSecret)
		if err != nil || len(key) == 0 {
			cl.fail(callout.OutcomeAuthFailed, "the webhook's signing secret is not a valid whsec_ secret; no request was sent")
			return false
		}
		cl.signer = &signer{key: key, id: cl.id, body: cl.r.Body}
	}
	cl.excluded = false
	return true
}

// circuitOpen reports a callout the breaker refused.
func (cl *call) circuitOpen(b *breaker, err error) {
	cl.res.Outcome = callout.OutcomeCircuitOpen
	if trialBusy(err) {
		// Half-open with its one trial under way: that trial ends within the
		// webhook's timeout.
		cl.res.RetryAfter = cl.timeout()
		cl.res.Detail = "the circuit breaker is half-open and its trial callout is under way; no request was sent"
		return
	}
	cl.res.RetryAfter = b.retryAfter(cl.c.now())
	cl.res.Detail = fmt.Sprintf("the circuit breaker is open after %d consecutive failures; no request was sent; the next trial is allowed in %s",
		b.config.failures, ceilSeconds(cl.res.RetryAfter))
}

// verdict is what the callout tells the breaker.
func (cl *call) verdict() error {
	switch {
	case cl.excluded || cl.res.Outcome == callout.OutcomeDestinationBlocked:
		return errBreakerExclude
	case cl.res.Outcome.BreakerFailure(cl.res.HTTPStatus):
		return errBreakerFailure
	}
	return nil
}

// run makes the attempts of a callout within the webhook's timeout.
func (cl *call) run(parent context.Context) {
	ctx, cancel := context.WithTimeoutCause(parent, cl.timeout(), errCalloutTimeout)
	defer cancel()
	left := cl.timeout()
	if d, ok := parent.Deadline(); ok {
		// The caller's deadline is on the real clock: it is carried over to
		// the client's once, here.
		left = min(left, time.Until(d))
	}
	cl.deadline = cl.c.now().Add(left)
	auth0 := cl.w.Auth.Type == callout.AuthAuth0
	if auth0 && !cl.fetchToken(ctx) {
		return
	}
	authRetried := false
	retries := 0
	for {
		a := cl.attempt(ctx)
		cl.res.Attempts++
		cl.settle(ctx, a)
		switch {
		case auth0 && a.err == nil && (a.status == http.StatusUnauthorized || a.status == http.StatusForbidden) && !authRetried:
			// The cached token may have been revoked or rotated: one retry
			// with a fresh token, for both kinds (the webhook refused the
			// request, so repeating it is safe).
			authRetried = true
			cl.c.tokens.Invalidate(cl.w.Auth.Auth0, cl.token)
			status := a.status
			if !cl.fetchToken(ctx) {
				cl.res.HTTPStatus = status
				return
			}
			cl.warn("retried with a fresh Auth0 token after HTTP %d", status)
		case cl.retryable(ctx, a, retries):
			why := cl.retryReason(a)
			if !cl.pause(ctx, a) {
				return
			}
			retries++
			cl.warn("retried after %s", why)
		default:
			return
		}
	}
}

// fetchToken gets an Auth0 token; on failure it settles the callout.
func (cl *call) fetchToken(ctx context.Context) bool {
	token, err := cl.c.tokens.Token(ctx, cl.w.Auth.Auth0)
	if err == nil && token == "" {
		err = errors.New("the token source returned an empty token")
	}
	if err != nil {
		if ctx.Err() != nil {
			cl.contextDone(ctx, "no Auth0 token came", 0)
			return false
		}
		cl.res.Answer = answer.Answer{}
		if errors.Is(err, ErrBlocked) {
			// The tenant's address is one the SSRF policy forbids (§7).
			cl.excluded = true
			cl.fail(callout.OutcomeDestinationBlocked, "the Auth0 token endpoint is blocked: %v", err)
			return false
		}
		cl.fail(callout.OutcomeAuthFailed, "no Auth0 token could be had: %v", err)
		return false
	}
	cl.token = token
	cl.addSecret(token)
	return true
}

// attempt is what one request brought.
type attempt struct {
	status   int
	header   http.Header
	body     []byte
	tooLarge bool
	err      error // a transport error, or an error reading the body
	took     time.Duration
}

// attempt makes one request.
func (cl *call) attempt(ctx context.Context) attempt {
	start := cl.c.now()
	req, err := cl.newRequest(ctx)
	if err != nil {
		cl.excluded = true
		return attempt{err: err}
	}
	resp, err := cl.c.hc.Do(req)
	if err != nil {
		return attempt{err: err, took: cl.c.now().Sub(start)}
	}
	defer resp.Body.Close()
	a := attempt{status: resp.StatusCode, header: resp.Header}
	a.body, a.tooLarge, a.err = readBody(resp.Body, resp.ContentLength, cl.c.maxResponse)
	a.took = cl.c.now().Sub(start)
	return a
}

// newRequest builds one attempt's request: same body, same ids, a fresh
// timestamp and signature.
func (cl *call) newRequest(ctx context.Context) (*http.Request, error) {
	body := cl.r.Body
	var rd io.Reader = http.NoBody
	if body != nil && body.Len() > 0 {
		rd = body.Reader()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cl.w.URL, rd)
	if err != nil {
		return nil, fmt.Errorf("building the request: %w", err)
	}
	if rd != http.NoBody {
		// The transport may replay the body (HTTP/2, a closed idle
		// connection): it reads the payload again rather than a copy.
		req.ContentLength = body.Len()
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body.Reader()), nil }
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", cl.c.userAgent)
	h.Set("X-Callout-Delivery", cl.id)
	if cl.r.RequestID != "" {
		h.Set("X-Request-Id", cl.r.RequestID)
	}
	if cl.r.IdempotencyKey != "" {
		h.Set("Idempotency-Key", cl.r.IdempotencyKey)
	}
	switch cl.w.Auth.Type {
	case callout.AuthBearer:
		h.Set("Authorization", "Bearer "+cl.w.Auth.BearerToken)
	case callout.AuthAuth0:
		h.Set("Authorization", "Bearer "+cl.token)
	}
	if cl.signer != nil {
		ts := cl.c.now().Unix()
		sig, err := cl.signer.sign(ts)
		if err != nil {
			return nil, err
		}
		h.Set(headerWebhookID, cl.id)
		h.Set(headerWebhookTimestamp, strconv.FormatInt(ts, 10))
		h.Set(headerWebhookSignature, sig)
	}
	return req, nil
}

// readBody reads at most limit bytes; tooLarge says there was more.
func readBody(r io.Reader, contentLength, limit int64) (body []byte, tooLarge bool, err error) {
	var b bytes.Buffer
	if contentLength > 0 {
		b.Grow(int(min(contentLength, limit) + 1))
	}
	if _, err := b.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return b.Bytes(), false, err
	}
	if int64(b.Len()) > limit {
		return b.Bytes()[:limit], true, nil
	}
	return b.Bytes(), false, nil
}

// settle records an attempt as the callout's result; the last attempt's
// settling is the one that stays.
func (cl *call) settle(ctx context.Context, a attempt) {
	res := cl.res
	res.Answer = answer.Answer{}
	res.HTTPStatus = a.status
	cl.body = head(a.body, callout.ResponseBodyLimit+redactMargin)
	switch {
	case a.err != nil && ctx.Err() == nil && headersTooLarge(a.err):
		// The manufacturer answered, badly: not a reason to retry.
		cl.fail(callout.OutcomeBadResponse, "the answer's headers are larger than Callout accepts: %v", unwrapURL(a.err))
	case cl.settleFailed(ctx, a):
	case a.tooLarge:
		cl.fail(callout.OutcomeBadResponse, "HTTP %d: the answer is larger than %s", a.status, byteSize(cl.c.maxResponse))
	case a.status >= 300 && a.status < 400:
		cl.fail(callout.OutcomeWebhookError, "HTTP %d: %s", a.status, redirectDetail(a.header.Get("Location")))
	default:
		ans := answer.Read(cl.w.Kind, a.status, a.body)
		res.Answer = ans
		res.Outcome = ans.Outcome
		res.Detail = answerDetail(a.status, ans)
	}
}

// settleFailed settles an attempt that brought no complete answer, for a
// callout and an event attempt alike, and reports whether it did.
func (cl *call) settleFailed(ctx context.Context, a attempt) bool {
	var blocked *BlockedError
	switch {
	case a.err == nil:
		return false
	case errors.As(a.err, &blocked):
		cl.excluded = true
		cl.fail(callout.OutcomeDestinationBlocked, "destination blocked: %v", blocked)
	case ctx.Err() != nil:
		cl.contextDone(ctx, "no complete answer came", a.status)
	default:
		cl.fail(callout.OutcomeUnreachable, "%s", describe(a.err, a.status))
	}
	return true
}

// contextDone settles a callout whose context ended: the webhook's own
// timeout, or the caller's deadline or cancellation, which say nothing about
// the webhook and are not counted by the breaker.
func (cl *call) contextDone(ctx context.Context, what string, status int) {
	timeout := cl.timeout().Milliseconds()
	got := ""
	if status != 0 {
		got = fmt.Sprintf(" (HTTP %d headers arrived, the body did not finish)", status)
	}
	elapsed := cl.c.now().Sub(cl.res.StartedAt).Round(time.Millisecond)
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errCalloutTimeout):
		cl.fail(callout.OutcomeTimeout, "%s within the webhook's %d ms timeout%s", what, timeout, got)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		cl.excluded = true
		cl.fail(callout.OutcomeTimeout, "%s before the caller's own deadline passed, after %s of the webhook's %d ms timeout%s", what, elapsed, timeout, got)
	default:
		cl.excluded = true
		cl.fail(callout.OutcomeUnreachable, "the caller cancelled the callout after %s: %s%s", elapsed, what, got)
	}
}

// retryable says whether the attempt may be repeated (docs/manufacturers.md, "Timeouts, retries"). Pricing is
// safe to repeat after a failure to connect, a 5xx or a 429; a submission only
// when its connection could not be made, so it certainly never arrived.
func (cl *call) retryable(ctx context.Context, a attempt, retries int) bool {
	if ctx.Err() != nil || cl.excluded {
		return false
	}
	switch cl.w.Kind {
	case callout.KindPricing:
		if retries >= cl.w.Retries {
			return false
		}
		return cl.res.Outcome == callout.OutcomeUnreachable ||
			a.status >= 500 || a.status == http.StatusTooManyRequests
	case callout.KindSubmission:
		return retries < maxDialRetries && a.err != nil && neverSent(a.err)
	}
	return false
}

func (cl *call) retryReason(a attempt) string {
	if cl.res.Outcome == callout.OutcomeUnreachable || a.status == 0 {
		return cl.res.Detail
	}
	return fmt.Sprintf("HTTP %d", a.status)
}

// pause waits before a retry, a jittered moment or what the webhook's
// Retry-After asks, and reports false when the time left would not allow
// another attempt.
func (cl *call) pause(ctx context.Context, a attempt) bool {
	p := cl.c.jitter()
	if ra, ok := retryAfterHeader(a.header, cl.c.now()); ok && ra > p {
		p = ra
	}
	left := cl.deadline.Sub(cl.c.now())
	if left < p+max(a.took, minAttempt) {
		cl.warn("not retried: %s of the %d ms timeout left", max(left, 0).Round(time.Millisecond), cl.timeout().Milliseconds())
		return false
	}
	select {
	case <-cl.c.after(p):
		return true
	case <-ctx.Done():
		return false
	}
}

// retryAfterHeader reads a Retry-After of delay seconds or an HTTP date.
func retryAfterHeader(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// finish completes the result, removes secrets, logs and reports it.
func (cl *call) finish(ctx context.Context) {
	res := cl.res
	res.Duration = cl.c.now().Sub(res.StartedAt)
	res.Warnings = append(append([]string(nil), res.Answer.Warnings...), cl.warnings...)
	redact(res, cl.body, cl.secrets)

	level := slog.LevelInfo
	if res.Outcome == callout.OutcomeAccepted {
		level = slog.LevelDebug
	}
	attrs := []slog.Attr{
		slog.String("manufacturer", cl.w.ManufacturerID),
		slog.String("kind", string(cl.w.Kind)),
		slog.String("outcome", string(res.Outcome)),
		slog.Int("http_status", res.HTTPStatus),
		slog.Int("attempts", res.Attempts),
		slog.Float64("duration_ms", float64(res.Duration)/float64(time.Millisecond)),
		slog.String("detail", res.Detail),
	}
	// A callout the breaker refused is not stored: naming its delivery
	// would send an administrator looking for one that does not exist.
	if res.Outcome != callout.OutcomeCircuitOpen {
		attrs = append(attrs, slog.String("delivery_id", cl.id))
	}
	cl.c.log.LogAttrs(ctx, level, "callout", attrs...)
	if cl.c.onCallout != nil {
		cl.c.onCallout(cl.w, res)
	}
}

// addSecret registers a value to redact from the result. Very short values
// are left alone: redacting them would garble ordinary text.
func (cl *call) addSecret(s string) {
	if len(s) >= minRedactLength {
		cl.secrets = append(cl.secrets, s)
	}
}

// ceilSeconds rounds d up to whole seconds, for messages.
func ceilSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}
