package callout

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one thing that happened, published once to a manufacturer (SPEC
// §12). Data is a JSON object kept byte for byte as the platform gave it.
type Event struct {
	ID             string
	ManufacturerID string
	Type           string
	Data           json.RawMessage
	Timestamp      time.Time
}

// Callout's own event types.
const (
	EventJobSubmitted = "job.submitted"
	EventPing         = "callout.ping"
)

// Event limits and defaults.
const (
	// DefaultMaxEventDataBytes bounds an event's data (413 beyond).
	DefaultMaxEventDataBytes = 1 << 20
	// DefaultEventRetention is how long events, messages and attempts are
	// kept.
	DefaultEventRetention = 30 * 24 * time.Hour
	// DefaultEndpointDisableAfter is how long an endpoint's every attempt
	// may fail before it is disabled.
	DefaultEndpointDisableAfter = 5 * 24 * time.Hour
	// EventIdempotencyWindow is how long a publish's id or Idempotency-Key
	// returns its first answer.
	EventIdempotencyWindow = 24 * time.Hour
)

// eventTypePattern is the event type name rule (README: Events).
var eventTypePattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`)

// ValidEventType reports whether name is a valid event type name.
func ValidEventType(name string) bool { return eventTypePattern.MatchString(name) }

// CheckEventData checks an event's data: a JSON object (422 otherwise) of at
// most limit bytes (413 otherwise; limit 0 means the default).
func CheckEventData(data []byte, limit int) error {
	if limit <= 0 {
		limit = DefaultMaxEventDataBytes
	}
	if len(data) > limit {
		return Errorf(ECodeTooLarge, "data is %d bytes, more than the %d allowed", len(data), limit)
	}
	if !IsJSONObject(data) {
		return Invalid(FieldError{Field: "data", Message: "must be a JSON object"})
	}
	return nil
}

// IsJSONObject reports whether b is one valid JSON object, surrounding white
// space allowed.
func IsJSONObject(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

// EndpointFormat is the body format of an endpoint's deliveries.
type EndpointFormat string

// The body formats (README: Events).
const (
	FormatEnvelope EndpointFormat = "envelope"
	FormatFlat     EndpointFormat = "flat"
	FormatData     EndpointFormat = "data"
)

// Endpoint defaults and bounds.
const (
	DefaultEndpointTimeoutMS   = 15_000
	MinEndpointTimeoutMS       = 1000
	MaxEndpointTimeoutMS       = 60_000
	DefaultEndpointMaxAttempts = 8
	MaxEndpointMaxAttempts     = 8
	MaxEndpointRateLimit       = 10_000
	maxEndpointFilters         = 100
	maxDescriptionLength       = 1000
)

// Endpoint is a manufacturer's subscription to events. It holds secrets in
// clear; only the store (encrypted) and the outbound client ever see them.
type Endpoint struct {
	ID                 string
	ManufacturerID     string
	URL                string
	Description        string
	Events             []string // filters: exact names, "prefix.*" or "*"; empty means all
	Auth               Auth
	SigningSecret      string
	Format             EndpointFormat
	TimeoutMS          int
	MaxAttempts        int
	RateLimitPerSecond int // 0: no limit
	Enabled            bool
	DisabledReason     string
	// FailingSince is the first failed attempt after the last success; nil
	// while the endpoint is healthy.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// SetDefaults fills every zero setting with its default.
func (e *Endpoint) SetDefaults() {
	if e.Auth.Type == "" {
		e.Auth.Type = AuthNone
	}
	if e.Format == "" {
		e.Format = FormatEnvelope
	}
	if e.TimeoutMS == 0 {
		e.TimeoutMS = DefaultEndpointTimeoutMS
	}
	if e.MaxAttempts == 0 {
		e.MaxAttempts = DefaultEndpointMaxAttempts
	}
}

// Timeout bounds one attempt.
func (e *Endpoint) Timeout() time.Duration { return time.Duration(e.TimeoutMS) * time.Millisecond }

// Validate checks every setting and returns a validation_failed error with one
// message per bad field, named as in the API.
func (e *Endpoint) Validate(p URLPolicy) error {
	var fe FieldErrors
	checkURL(&fe, "url", e.URL, p)
	if utf8.RuneCountInString(e.Description) > maxDescriptionLength || hasControl(e.Description) {
		fe.Add("description", "must be at most %d characters without control characters", maxDescriptionLength)
	}
	if len(e.Events) > maxEndpointFilters {
		fe.Add("events", "must hold at most %d filters", maxEndpointFilters)
	}
	for i, f := range e.Events {
		if !validFilter(f) {
			fe.Add("events["+strconv.Itoa(i)+"]", "must be an event type name, a prefix ending in .* or *")
		}
	}
	checkAuth(&fe, e.Auth, p)
	if e.SigningSecret != "" && !ValidSigningSecret(e.SigningSecret) {
		fe.Add("signing_secret", "must be whsec_ followed by the base64 of 24 to 64 random bytes")
	}
	switch e.Format {
	case FormatEnvelope, FormatFlat, FormatData:
	default:
		fe.Add("format", "must be envelope, flat or data")
	}
	if e.TimeoutMS < MinEndpointTimeoutMS || e.TimeoutMS > MaxEndpointTimeoutMS {
		fe.Add("timeout_ms", "must be from %d to %d", MinEndpointTimeoutMS, MaxEndpointTimeoutMS)
	}
	if e.MaxAttempts < 1 || e.MaxAttempts > MaxEndpointMaxAttempts {
		fe.Add("max_attempts", "must be from 1 to %d", MaxEndpointMaxAttempts)
	}
	if e.RateLimitPerSecond < 0 || e.RateLimitPerSecond > MaxEndpointRateLimit {
		fe.Add("rate_limit_per_second", "must be from 1 to %d, or absent for no limit", MaxEndpointRateLimit)
	}
	return fe.Err()
}

// validFilter accepts "*", an event type name, or a name prefix ending in
// ".*".
func validFilter(f string) bool {
	if f == "*" {
		return true
	}
	if p, ok := strings.CutSuffix(f, ".*"); ok {
		return ValidEventType(p)
	}
	return ValidEventType(f)
}

// Wants reports whether the endpoint subscribes to events of type t.
func (e *Endpoint) Wants(t string) bool {
	if len(e.Events) == 0 {
		return true
	}
	for _, f := range e.Events {
		if FilterMatches(f, t) {
			return true
		}
	}
	return false
}

// FilterMatches reports whether filter f selects event type t: "*" selects
// every type, "job.*" every type starting "job.", any other filter the type
// of that exact name.
func FilterMatches(f, t string) bool {
	if f == "*" {
		return true
	}
	if p, ok := strings.CutSuffix(f, "*"); ok && strings.HasSuffix(p, ".") {
		return strings.HasPrefix(t, p)
	}
	return f == t
}

// AsWebhook returns the endpoint as the outbound client sees a webhook: its
// URL, credentials, signing secret and timeout, and a breaker keyed by the
// endpoint.
func (e *Endpoint) AsWebhook() *Webhook {
	return &Webhook{
		ManufacturerID: e.ManufacturerID,
		Kind:           Kind("endpoint:" + e.ID),
		Enabled:        e.Enabled,
		URL:            e.URL,
		Auth:           e.Auth,
		TimeoutMS:      e.TimeoutMS,
		SigningSecret:  e.SigningSecret,
		Breaker: BreakerSettings{
			ConsecutiveFailures: DefaultBreakerFailures,
			OpenSeconds:         int(DefaultBreakerOpen / time.Second),
		},
		UpdatedAt: e.UpdatedAt,
	}
}

// EventBody builds the body an endpoint receives for ev, in format f
// (README: Events). The data is spliced in byte for byte, never re-encoded.
func EventBody(f EndpointFormat, ev *Event, endpointID string) []byte {
	data := bytes.TrimSpace(ev.Data)
	var b bytes.Buffer
	b.Grow(len(data) + 200)
	switch f {
	case FormatData:
		b.Write(data)
	case FormatFlat:
		// The members of data, then Callout's own.
		inner := bytes.TrimSpace(data[1 : len(data)-1])
		b.WriteByte('{')
		if len(inner) > 0 {
			b.Write(inner)
			b.WriteByte(',')
		}
		b.WriteString(`"event":`)
		writeJSONString(&b, ev.Type)
		b.WriteString(`,"webhook_id":`)
		writeJSONString(&b, endpointID)
		b.WriteString(`,"created_timestamp":`)
		b.WriteString(strconv.FormatInt(ev.Timestamp.Unix(), 10))
		b.WriteByte('}')
	default:
		b.WriteString(`{"id":`)
		writeJSONString(&b, ev.ID)
		b.WriteString(`,"event":`)
		writeJSONString(&b, ev.Type)
		b.WriteString(`,"timestamp":`)
		writeJSONString(&b, FormatEventTime(ev.Timestamp))
		b.WriteString(`,"webhook_id":`)
		writeJSONString(&b, endpointID)
		b.WriteString(`,"data":`)
		b.Write(data)
		b.WriteByte('}')
	}
	return b.Bytes()
}

// FormatEventTime is how event times are written: RFC 3339, UTC,
// microseconds.
func FormatEventTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always encodes
	b.Write(q)
}

// MessageStatus is where a message stands.
type MessageStatus string

// The message statuses.
const (
	MessagePending    MessageStatus = "pending"
	MessageDelivering MessageStatus = "delivering"
	MessageSucceeded  MessageStatus = "succeeded"
	MessageFailed     MessageStatus = "failed"
	MessageCancelled  MessageStatus = "cancelled"
)

// EventMessage is one event for one endpoint: the unit delivered, retried and
// replayed.
type EventMessage struct {
	ManufacturerID string
	EventID        string
	EndpointID     string
	Status         MessageStatus
	Attempts       int
	NextAttemptAt  *time.Time
	LastHTTPStatus int
	LastOutcome    string
	UpdatedAt      time.Time
}

// MessageKey names a message.
type MessageKey struct {
	ManufacturerID string `json:"m"`
	EventID        string `json:"e"`
	EndpointID     string `json:"p"`
}

// Attempt outcomes beyond the callout outcomes: a 2xx is "succeeded", any
// other answer "http_error" (its status says which), and 410 "gone".
const (
	AttemptSucceeded = "succeeded"
	AttemptHTTPError = "http_error"
	AttemptGone      = "gone"
)

// Attempt is one HTTP request of a message. RequestHeaders never hold a
// secret: credentials and signatures are redacted.
type Attempt struct {
	ID             string
	ManufacturerID string
	EndpointID     string
	EventID        string
	Number         int
	StartedAt      time.Time
	DurationMS     float64
	HTTPStatus     int
	Outcome        string
	Detail         string
	RequestHeaders map[string]string
	ResponseBody   []byte
}

// retrySchedule is the wait before each attempt of a message: the first at
// once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
var retrySchedule = [MaxEndpointMaxAttempts]time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// MaxRetryAfter bounds how long a receiver's Retry-After may defer the next
// attempt.
const MaxRetryAfter = time.Hour

// RetryDelay returns the wait before the next attempt of a message whose
// attempt number done (1-based) failed, and false when none remains: done
// reached maxAttempts, or the receiver answered 410. jitter, in [-1, 1],
// moves the wait by up to ±10 %. A Retry-After given with a 429 or 503 is
// honoured when longer, up to MaxRetryAfter.
func RetryDelay(done, maxAttempts, status int, retryAfter time.Duration, jitter float64) (time.Duration, bool) {
	if status == 410 || done >= maxAttempts || done >= len(retrySchedule) {
		return 0, false
	}
	d := retrySchedule[done]
	d += time.Duration(float64(d) * 0.1 * max(-1, min(1, jitter)))
	if status == 429 || status == 503 {
		d = max(d, min(retryAfter, MaxRetryAfter))
	}
	return d, true
}

// ShouldDisable reports whether an endpoint failing since failingSince is to
// be disabled at now, after period (0 means the default).
func ShouldDisable(failingSince *time.Time, now time.Time, period time.Duration) bool {
	if period <= 0 {
		period = DefaultEndpointDisableAfter
	}
	return failingSince != nil && now.Sub(*failingSince) >= period
}

// EventType is an entry of the event-type catalogue.
type EventType struct {
	Name        string
	Description string
	Example     json.RawMessage
	Builtin     bool
}

// PingData is the data of every callout.ping event an endpoint test sends.
const PingData = `{"message":"This is a test event from Callout."}`

// BuiltinEventTypes are Callout's own event types.
var BuiltinEventTypes = []EventType{
	{Name: EventJobSubmitted, Builtin: true,
		Description: "A job's submission was accepted by the manufacturer.",
		Example:     json.RawMessage(`{"job_id":"338167","customer_id":"27465","external_id":"JPS-990495","messages":[{"text":"Order #123456","source":"submission","at":"2026-01-02T03:04:05Z"}],"submitted_at":"2026-01-02T03:04:05Z"}`)},
	{Name: EventPing, Builtin: true,
		Description: "A test event sent by POST /v1/manufacturers/{m}/endpoints/{e}/test.",
		Example:     json.RawMessage(PingData)},
}

// PublishResult is the answer to a publish.
type PublishResult struct {
	Event    Event
	Messages int
	// Duplicate says the event was published before, with the same id or
	// Idempotency-Key: nothing was published again.
	Duplicate bool
}

// EventFilter selects events; zero fields select all.
type EventFilter struct {
	ManufacturerID string
	Type           string
	Since, Until   time.Time
	Limit          int
	Cursor         string
}

// AttemptFilter selects the attempts of one endpoint.
type AttemptFilter struct {
	ManufacturerID string
	EndpointID     string
	// Outcome selects attempts of one outcome; "" all.
	Outcome string
	Limit   int
	Cursor  string
}
