package callout

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidEventType(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"job.submitted", true},
		{"moved_to_ready", true},
		{"job-state-changed", true},
		{"NewOrderCreated", true},
		{"a:b", true},
		{strings.Repeat("a", 100), true},
		{strings.Repeat("a", 101), false},
		{"", false},
		{"has space", false},
		{"job/submitted", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := ValidEventType(tt.name); got != tt.want {
			t.Errorf("ValidEventType(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckEventData(t *testing.T) {
	tests := []struct {
		data  string
		limit int
		want  string
	}{
		{`{"a":1}`, 0, ""},
		{` {} `, 0, ""},
		{`[1]`, 0, ECodeInvalid},
		{`"x"`, 0, ECodeInvalid},
		{`null`, 0, ECodeInvalid},
		{`{"a":`, 0, ECodeInvalid},
		{``, 0, ECodeInvalid},
		{`{"a":"0123456789"}`, 10, ECodeTooLarge},
	}
	for _, tt := range tests {
		if got := ErrorCode(CheckEventData([]byte(tt.data), tt.limit)); got != tt.want {
			t.Errorf("CheckEventData(%q, %d) = %q, want %q", tt.data, tt.limit, got, tt.want)
		}
	}
}

func TestFilterMatches(t *testing.T) {
	tests := []struct {
		filter, typ string
		want        bool
	}{
		{"*", "anything", true},
		{"job.*", "job.submitted", true},
		{"job.*", "job.a.b", true},
		{"job.*", "job", false},
		{"job.*", "jobs.submitted", false},
		{"moved_to_ready", "moved_to_ready", true},
		{"moved_to_ready", "moved_to_ready2", false},
	}
	for _, tt := range tests {
		if got := FilterMatches(tt.filter, tt.typ); got != tt.want {
			t.Errorf("FilterMatches(%q, %q) = %v, want %v", tt.filter, tt.typ, got, tt.want)
		}
	}
	e := &Endpoint{}
	if !e.Wants("x") {
		t.Error("an endpoint without filters does not want every event")
	}
	e.Events = []string{"a", "job.*"}
	if !e.Wants("job.x") || !e.Wants("a") || e.Wants("b") {
		t.Errorf("Wants with filters %v is wrong", e.Events)
	}
}

func TestEndpointValidate(t *testing.T) {
	p := URLPolicy{}
	ok := func() *Endpoint {
		e := &Endpoint{URL: "https://erp.example.com/hooks", Events: []string{"job.*", "moved_to_ready", "*"}}
		e.SetDefaults()
		return e
	}
	if err := ok().Validate(p); err != nil {
		t.Fatalf("Validate(good endpoint) = %v", err)
	}
	tests := []struct {
		name   string
		change func(e *Endpoint)
		fields []string
	}{
		{"no url", func(e *Endpoint) { e.URL = "" }, []string{"url"}},
		{"http", func(e *Endpoint) { e.URL = "http://erp.example.com" }, []string{"url"}},
		{"loopback", func(e *Endpoint) { e.URL = "https://127.0.0.1/x" }, []string{"url"}},
		{"bad filter", func(e *Endpoint) { e.Events = []string{"ok", "bad name", "x.*.*"} }, []string{"events[1]", "events[2]"}},
		{"auth", func(e *Endpoint) { e.Auth.Type = AuthBearer }, []string{"auth.bearer_token"}},
		{"auth type", func(e *Endpoint) { e.Auth.Type = "basic" }, []string{"auth.type"}},
		{"secret", func(e *Endpoint) { e.SigningSecret = "nope" }, []string{"signing_secret"}},
		{"format", func(e *Endpoint) { e.Format = "xml" }, []string{"format"}},
		{"timeout", func(e *Endpoint) { e.TimeoutMS = 999 }, []string{"timeout_ms"}},
		{"attempts", func(e *Endpoint) { e.MaxAttempts = 9 }, []string{"max_attempts"}},
		{"rate", func(e *Endpoint) { e.RateLimitPerSecond = -1 }, []string{"rate_limit_per_second"}},
		{"several", func(e *Endpoint) { e.TimeoutMS, e.MaxAttempts = 70_000, -1 }, []string{"timeout_ms", "max_attempts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok()
			tt.change(e)
			err := e.Validate(p)
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != ECodeInvalid {
				t.Fatalf("Validate = %v, want validation_failed", err)
			}
			var got []string
			for _, f := range ce.Fields {
				got = append(got, f.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields = %v, want %v", got, tt.fields)
			}
		})
	}
}

func TestEventBody(t *testing.T) {
	ev := &Event{ID: "evt_1", Type: "moved_to_ready", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC),
		Data: json.RawMessage(`{"z":1.0e2,"a":0.10, "nested":{"b":[1,2]}}`)}
	tests := []struct {
		format EndpointFormat
		want   string
	}{
		{FormatEnvelope, `{"id":"evt_1","event":"moved_to_ready","timestamp":"2026-01-02T03:04:05.123456Z","webhook_id":"ep_1","data":{"z":1.0e2,"a":0.10, "nested":{"b":[1,2]}}}`},
		{FormatFlat, `{"z":1.0e2,"a":0.10, "nested":{"b":[1,2]},"event":"moved_to_ready","webhook_id":"ep_1","created_timestamp":1767323045}`},
		{FormatData, `{"z":1.0e2,"a":0.10, "nested":{"b":[1,2]}}`},
	}
	for _, tt := range tests {
		got := string(EventBody(tt.format, ev, "ep_1"))
		if got != tt.want {
			t.Errorf("EventBody(%s) =\n%s\nwant\n%s", tt.format, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("EventBody(%s) is not valid JSON", tt.format)
		}
	}
	empty := &Event{ID: "e", Type: "t", Timestamp: ev.Timestamp, Data: json.RawMessage(`{ }`)}
	if got, want := string(EventBody(FormatFlat, empty, "p")), `{"event":"t","webhook_id":"p","created_timestamp":1767323045}`; got != want {
		t.Errorf("EventBody(flat, {}) = %s, want %s", got, want)
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		name              string
		done, max, status int
		retryAfter        time.Duration
		jitter            float64
		want              time.Duration
		wantOK            bool
	}{
		{"after the first", 1, 8, 500, 0, 0, 5 * time.Second, true},
		{"after the second", 2, 8, 0, 0, 0, 5 * time.Minute, true},
		{"after the third", 3, 8, 404, 0, 0, 30 * time.Minute, true},
		{"after the fourth", 4, 8, 302, 0, 0, 2 * time.Hour, true},
		{"after the fifth", 5, 8, 500, 0, 0, 5 * time.Hour, true},
		{"after the sixth", 6, 8, 500, 0, 0, 10 * time.Hour, true},
		{"after the seventh", 7, 8, 500, 0, 0, 10 * time.Hour, true},
		{"after the last", 8, 8, 500, 0, 0, 0, false},
		{"max_attempts 3", 3, 3, 500, 0, 0, 0, false},
		{"gone", 1, 8, 410, 0, 0, 0, false},
		{"jitter up", 1, 8, 500, 0, 1, 5500 * time.Millisecond, true},
		{"jitter down", 2, 8, 500, 0, -1, 270 * time.Second, true},
		{"jitter clamped", 1, 8, 500, 0, 7, 5500 * time.Millisecond, true},
		{"retry-after longer", 1, 8, 429, 40 * time.Second, 0, 40 * time.Second, true},
		{"retry-after shorter", 2, 8, 503, 40 * time.Second, 0, 5 * time.Minute, true},
		{"retry-after capped", 1, 8, 503, 5 * time.Hour, 0, time.Hour, true},
		{"retry-after ignored on 500", 1, 8, 500, 40 * time.Second, 0, 5 * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := RetryDelay(tt.done, tt.max, tt.status, tt.retryAfter, tt.jitter)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: RetryDelay = %s, %v, want %s, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestShouldDisable(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	since := now.Add(-5 * 24 * time.Hour)
	recent := now.Add(-time.Hour)
	if !ShouldDisable(&since, now, 0) {
		t.Error("an endpoint failing for 5 days is not disabled")
	}
	if ShouldDisable(&recent, now, 0) || ShouldDisable(nil, now, 0) {
		t.Error("a healthy or recently failing endpoint is disabled")
	}
	if !ShouldDisable(&recent, now, time.Minute) {
		t.Error("the period is not configurable")
	}
}
