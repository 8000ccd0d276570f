package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callout/callout"
)

// testEvents is the events part of the contract every database must meet.
func testEvents(t *testing.T, open opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open opener)
	}{
		{"Endpoints", testEndpoints},
		{"EndpointSecretsSealed", testEndpointSecretsSealed},
		{"Publish", testPublish},
		{"PublishIdempotent", testPublishIdempotent},
		{"PublishRollsBackWithItsJobs", testPublishRollsBackWithItsJobs},
		{"ReplaceEndpointsCancels", testReplaceEndpointsCancels},
		{"JobSubmittedEvent", testJobSubmittedEvent},
		{"RecordAttempt", testRecordAttempt},
		{"AutoDisable", testAutoDisable},
		{"RedeliverRecover", testRedeliverRecover},
		{"ManyEndpoints", testManyEndpoints},
		{"EventPages", testEventPages},
		{"EventTypes", testEventTypes},
		{"PruneEvents", testPruneEvents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// recorder is an Enqueuer that records the keys it was given, checking that
// it runs inside the transaction (the message row is visible there), and
// fails when told to.
type recorder struct {
	s    *Store
	mu   sync.Mutex
	keys []callout.MessageKey
	fail bool
}

func (r *recorder) EnqueueTx(ctx context.Context, tx *sql.Tx, keys []callout.MessageKey) error {
	if r.fail {
		return errors.New("queue refused")
	}
	for _, k := range keys {
		var status string
		if err := r.s.queryRow(ctx, tx, `SELECT status FROM event_messages WHERE manufacturer_id = ? AND event_id = ? AND endpoint_id = ?`,
			k.ManufacturerID, k.EventID, k.EndpointID).Scan(&status); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.keys = append(r.keys, keys...)
	r.mu.Unlock()
	return nil
}

func (r *recorder) take() []callout.MessageKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys
	r.keys = nil
	return k
}

func (e *env) recorder() *recorder {
	r := &recorder{s: e.Store}
	e.SetEnqueuer(r)
	return r
}

func endpoint(m, id string, filters ...string) *callout.Endpoint {
	ep := &callout.Endpoint{ManufacturerID: m, ID: id, URL: "https://erp.example.com/" + id, Events: filters, Enabled: true}
	ep.SetDefaults()
	return ep
}

func (e *env) endpoint(t *testing.T, ep *callout.Endpoint) *callout.Endpoint {
	t.Helper()
	if err := e.PutEndpoint(e.ctx, ep); err != nil {
		t.Fatalf("PutEndpoint(%s): %v", ep.ID, err)
	}
	return ep
}

func (e *env) publish(t *testing.T, m, typ, data string) *callout.PublishResult {
	t.Helper()
	res, err := e.PublishEvent(e.ctx, &callout.Event{ManufacturerID: m, Type: typ, Data: []byte(data)}, "")
	if err != nil {
		t.Fatalf("PublishEvent(%s): %v", typ, err)
	}
	return res
}

func (e *env) messages(t *testing.T, m, eventID string) map[string]callout.MessageStatus {
	t.Helper()
	_, msgs, err := e.GetEvent(e.ctx, m, eventID)
	if err != nil {
		t.Fatalf("GetEvent(%s): %v", eventID, err)
	}
	out := map[string]callout.MessageStatus{}
	for _, msg := range msgs {
		out[msg.EndpointID] = msg.Status
	}
	return out
}

func testEndpoints(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	ep := endpoint("103", "ep1", "job.*", "moved_to_ready")
	ep.Auth = callout.Auth{Type: callout.AuthAuth0, Auth0: callout.Auth0{TenantDomain: "t.example.com", ClientID: "cid", ClientSecret: "auth0-secret-value", Audience: "aud"}}
	ep.SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ep.Description = "ERP"
	ep.RateLimitPerSecond = 5
	e.endpoint(t, ep)
	created := ep.CreatedAt

	got, err := e.GetEndpoint(e.ctx, "103", "ep1")
	if err != nil {
		t.Fatalf("GetEndpoint: %v", err)
	}
	if diff := cmp.Diff(ep, got); diff != "" {
		t.Errorf("endpoint read back (-want +got):\n%s", diff)
	}

	e.clock.Add(time.Minute)
	ep.URL, ep.Events, ep.Auth = "https://erp.example.com/v2", nil, callout.Auth{Type: callout.AuthNone}
	e.endpoint(t, ep)
	got, _ = e.GetEndpoint(e.ctx, "103", "ep1")
	if !got.CreatedAt.Equal(created) || !got.UpdatedAt.Equal(utc(e.clock.Now())) || got.URL != ep.URL || got.Events != nil || got.Auth.Auth0.ClientSecret != "" {
		t.Errorf("replaced endpoint = %+v", got)
	}

	e.endpoint(t, endpoint("103", "ep2"))
	list, err := e.ListEndpoints(e.ctx, "103")
	if err != nil || len(list) != 2 || list[0].ID != "ep1" || list[1].ID != "ep2" {
		t.Fatalf("ListEndpoints = %v, %v; want ep1, ep2", list, err)
	}
	if err := e.DeleteEndpoint(e.ctx, "103", "ep2"); err != nil {
		t.Fatalf("DeleteEndpoint: %v", err)
	}
	wantCode(t, e.DeleteEndpoint(e.ctx, "103", "ep2"), callout.ECodeNotFound)
	_, err = e.GetEndpoint(e.ctx, "103", "ep2")
	wantCode(t, err, callout.ECodeNotFound)
	wantCode(t, e.PutEndpoint(e.ctx, endpoint("nobody", "ep1")), callout.ECodeNotFound)
	// Another manufacturer's endpoint of the same id is another endpoint.
	e.manufacturer(t, "104")
	_, err = e.GetEndpoint(e.ctx, "104", "ep1")
	wantCode(t, err, callout.ECodeNotFound)
}

func testEndpointSecretsSealed(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	ep := endpoint("103", "ep1")
	ep.Auth = callout.Auth{Type: callout.AuthBearer, BearerToken: "bearer-token-plaintext"}
	ep.SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	e.endpoint(t, ep)
	var bearer, signing []byte
	if err := e.db.QueryRow(e.rebind(`SELECT bearer_token, signing_secret FROM endpoints WHERE id = ?`), "ep1").Scan(&bearer, &signing); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bearer, []byte("bearer-token-plaintext")) || bytes.Contains(signing, []byte("MfKQ9r8GKYqr")) || len(bearer) == 0 {
		t.Errorf("secrets stored in clear or not at all: %q, %q", bearer, signing)
	}
	// A sealed value copied to another endpoint does not open there.
	e.endpoint(t, endpoint("103", "ep2"))
	if _, err := e.db.Exec(e.rebind(`UPDATE endpoints SET bearer_token = ?, auth_type = 'bearer' WHERE id = ?`), bearer, "ep2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetEndpoint(e.ctx, "103", "ep2"); err == nil {
		t.Error("a secret copied to another endpoint opened")
	}
}

func testPublish(t *testing.T, open opener) {
	e := newEnv(t, open)
	rec := e.recorder()
	e.manufacturer(t, "103")
	e.manufacturer(t, "104")
	e.endpoint(t, endpoint("103", "all"))
	e.endpoint(t, endpoint("103", "jobs", "job.*"))
	e.endpoint(t, endpoint("103", "ready", "moved_to_ready"))
	off := endpoint("103", "off")
	off.Enabled = false
	e.endpoint(t, off)
	e.endpoint(t, endpoint("104", "other"))

	data := "{\"z\": 1.0e2, \"a\":0.10,\n \"s\":\"\\u00e9\"}"
	res := e.publish(t, "103", "job.submitted", data)
	if res.Messages != 2 || res.Duplicate || res.Event.ID == "" || !res.Event.Timestamp.Equal(utc(e.clock.Now())) {
		t.Errorf("PublishEvent = %+v, want 2 messages, a new id, now", res)
	}
	keys := rec.take()
	if len(keys) != 2 || keys[0].EndpointID != "all" || keys[1].EndpointID != "jobs" {
		t.Errorf("enqueued %v, want all and jobs", keys)
	}
	ev, _, err := e.GetEvent(e.ctx, "103", res.Event.ID)
	if err != nil || string(ev.Data) != data || ev.Type != "job.submitted" {
		t.Errorf("GetEvent = %+v, %v; want data byte for byte", ev, err)
	}
	if got := e.messages(t, "103", res.Event.ID); !cmp.Equal(got, map[string]callout.MessageStatus{"all": "pending", "jobs": "pending"}) {
		t.Errorf("messages = %v", got)
	}
	// Nobody subscribed: kept in the log, no message.
	res = e.publish(t, "103", "unheard.of", "{}")
	if res.Messages != 1 { // "all" wants everything
		t.Errorf("messages to a catch-all = %d, want 1", res.Messages)
	}
	e.manufacturer(t, "105")
	res = e.publish(t, "105", "unheard.of", "{}")
	if res.Messages != 0 {
		t.Errorf("messages without endpoints = %d, want 0", res.Messages)
	}
	if _, _, err := e.GetEvent(e.ctx, "105", res.Event.ID); err != nil {
		t.Errorf("an event nobody wants is not in the log: %v", err)
	}
	_, err = e.PublishEvent(e.ctx, &callout.Event{ManufacturerID: "nobody", Type: "x", Data: []byte("{}")}, "")
	wantCode(t, err, callout.ECodeNotFound)
}

func testPublishIdempotent(t *testing.T, open opener) {
	e := newEnv(t, open)
	rec := e.recorder()
	e.manufacturer(t, "103")
	e.endpoint(t, endpoint("103", "all"))

	first, err := e.PublishEvent(e.ctx, &callout.Event{ManufacturerID: "103", ID: "platform-1", Type: "a", Data: []byte(`{"n":1}`)}, "")
	if err != nil || first.Event.ID != "platform-1" {
		t.Fatalf("PublishEvent = %+v, %v", first, err)
	}
	e.clock.Add(time.Hour)
	again, err := e.PublishEvent(e.ctx, &callout.Event{ManufacturerID: "103", ID: "platform-1", Type: "b", Data: []byte(`{"n":2}`)}, "")
	if err != nil || !again.Duplicate || again.Event.Type != "a" || string(again.Event.Data) != `{"n":1}` ||
		!again.Event.Timestamp.Equal(first.Event.Timestamp) || again.Messages != 1 {
		t.Errorf("second publish of an id = %+v, %v; want the first", again, err)
	}

	byKey, _ := e.PublishEvent(e.ctx, &callout.Event{ManufacturerID: "103", Type: "a", Data: []byte(`{}`)}, "key-1")
	e.clock.Add(23 * time.Hour)
	dup, _ := e.PublishEvent(e.ctx, &callout.Event{ManufacturerID: "103", Type: "a", Data: []byte(`{}`)}, "key-1")
	if !dup.Duplicate || dup.Event.ID != byKey.Event.ID {
		t.Errorf("same key within 24 h = %+v, want event %s again", dup, byKey.Event.ID)
	}
	e.clock.Add(2 * time.Hour)
	late, _ := e.PublishEvent(e.ctx, &callout.Event{ManufacturerID: "103", Type: "a", Data: []byte(`{}`)}, "key-1")
	if late.Duplicate {
		t.Error("a key older than 24 h still deduplicates")
	}
	if n := len(rec.take()); n != 3 {
		t.Errorf("enqueued %d messages, want 3 (duplicates enqueue nothing)", n)
	}
	evs, _, _ := e.ListEvents(e.ctx, callout.EventFilter{ManufacturerID: "103"})
	if len(evs) != 3 {
		t.Errorf("%d events in the log, want 3", len(evs))
	}
}

func testPublishRollsBackWithItsJobs(t *testing.T, open opener) {
	e := newEnv(t, open)
	rec := e.recorder()
	rec.fail = true
	e.manufacturer(t, "103")
	e.endpoint(t, endpoint("103", "all"))
	_, err := e.PublishEvent(e.ctx, &callout.Event{ManufacturerID: "103", ID: "x", Type: "a", Data: []byte(`{}`)}, "")
	if err == nil {
		t.Fatal("PublishEvent succeeded though its jobs could not be enqueued")
	}
	_, _, err = e.GetEvent(e.ctx, "103", "x")
	wantCode(t, err, callout.ECodeNotFound)
}

func testReplaceEndpointsCancels(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	e.endpoint(t, endpoint("103", "old"))
	e.endpoint(t, endpoint("103", "kept"))
	res := e.publish(t, "103", "a", "{}")

	kept := endpoint("103", "kept", "b")
	if err := e.ReplaceEndpoints(e.ctx, "103", []*callout.Endpoint{kept, endpoint("103", "new")}); err != nil {
		t.Fatalf("ReplaceEndpoints: %v", err)
	}
	list, _ := e.ListEndpoints(e.ctx, "103")
	var ids []string
	for _, ep := range list {
		ids = append(ids, ep.ID)
	}
	if !cmp.Equal(ids, []string{"kept", "new"}) || !cmp.Equal(list[0].Events, []string{"b"}) {
		t.Errorf("endpoints after replace-all = %v (%v)", ids, list[0].Events)
	}
	want := map[string]callout.MessageStatus{"old": "cancelled", "kept": "pending"}
	if got := e.messages(t, "103", res.Event.ID); !cmp.Equal(got, want) {
		t.Errorf("messages after replace-all = %v, want %v", got, want)
	}
	// A bad endpoint in the array leaves everything as it was: "new" is not
	// removed, "extra" not added.
	err := e.ReplaceEndpoints(e.ctx, "nobody", []*callout.Endpoint{endpoint("nobody", "x")})
	wantCode(t, err, callout.ECodeNotFound)
	err = e.ReplaceEndpoints(e.ctx, "103", []*callout.Endpoint{endpoint("103", "kept"), endpoint("103", "extra"), endpoint("nobody", "x")})
	wantCode(t, err, callout.ECodeNotFound)
	list, _ = e.ListEndpoints(e.ctx, "103")
	ids = ids[:0]
	for _, ep := range list {
		ids = append(ids, ep.ID)
	}
	if !cmp.Equal(ids, []string{"kept", "new"}) {
		t.Errorf("endpoints after a failed replace-all = %v, want kept, new", ids)
	}
}

func testJobSubmittedEvent(t *testing.T, open opener) {
	e := newEnv(t, open)
	rec := e.recorder()
	e.jobWithCustomer(t, "103", "j1")
	e.endpoint(t, endpoint("103", "erp", "job.submitted"))
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "a", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A rejected submission publishes nothing.
	finish(t, e.Store, &callout.SubmissionResult{ManufacturerID: "103", JobID: "j1", ClaimID: "a",
		Response: callout.Response{Status: 422, Body: []byte(`{}`)}})
	if keys := rec.take(); len(keys) != 0 {
		t.Errorf("a rejected submission enqueued %v", keys)
	}
	if _, err := e.ClaimSubmission(e.ctx, "103", "j1", "b", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	finish(t, e.Store, &callout.SubmissionResult{ManufacturerID: "103", JobID: "j1", ClaimID: "b", Accepted: true,
		ExternalID: "JPS-1", SubmittedAt: start, Messages: []callout.Message{{Text: "Order #1", Source: callout.KindSubmission, At: start}},
		Response: callout.Response{Status: 200, Body: []byte(`{}`)}})
	keys := rec.take()
	if len(keys) != 1 || keys[0].EndpointID != "erp" {
		t.Fatalf("an accepted submission enqueued %v, want one message to erp", keys)
	}
	ev, _, err := e.GetEvent(e.ctx, "103", keys[0].EventID)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"job_id":"j1","customer_id":"c1","external_id":"JPS-1","messages":[{"text":"Order #1","source":"submission","at":"2025-02-28T23:00:00.123456Z"}],"submitted_at":"2025-02-28T23:00:00.123456Z"}`
	if ev.Type != callout.EventJobSubmitted || string(ev.Data) != want {
		t.Errorf("job.submitted = %s %s, want %s", ev.Type, ev.Data, want)
	}
}

func (e *env) attempt(t *testing.T, k callout.MessageKey, n int, outcome string, status callout.MessageStatus) bool {
	t.Helper()
	// As delivery does: the endpoint is read before the attempt.
	ep, err := e.GetEndpoint(e.ctx, k.ManufacturerID, k.EndpointID)
	if err != nil {
		t.Fatal(err)
	}
	disabled, err := e.RecordAttempt(e.ctx, &AttemptRecord{
		Attempt: &callout.Attempt{ManufacturerID: k.ManufacturerID, EndpointID: k.EndpointID, EventID: k.EventID,
			Number: n, StartedAt: e.clock.Now(), HTTPStatus: 500, Outcome: outcome,
			RequestHeaders: map[string]string{"Authorization": "[redacted]"}, ResponseBody: []byte("oops")},
		Status: status, DisableAfter: 48 * time.Hour, EndpointFailing: ep.FailingSince != nil,
	})
	if err != nil {
		t.Fatalf("RecordAttempt: %v", err)
	}
	return disabled
}

func testRecordAttempt(t *testing.T, open opener) {
	e := newEnv(t, open)
	rec := e.recorder()
	e.manufacturer(t, "103")
	e.endpoint(t, endpoint("103", "ep1"))
	e.publish(t, "103", "a", "{}")
	k := rec.take()[0]

	d, err := e.GetMessageDelivery(e.ctx, k)
	if err != nil || d.Endpoint.ID != "ep1" || d.Event.Type != "a" || d.Message.Status != callout.MessagePending || d.Message.Attempts != 0 {
		t.Fatalf("GetMessageDelivery = %+v, %v", d, err)
	}
	e.attempt(t, k, 1, callout.AttemptHTTPError, callout.MessagePending)
	ep, _ := e.GetEndpoint(e.ctx, "103", "ep1")
	if ep.FailingSince == nil || !ep.FailingSince.Equal(utc(e.clock.Now())) {
		t.Errorf("failing since = %v after a failure", ep.FailingSince)
	}
	e.clock.Add(time.Second)
	e.attempt(t, k, 2, callout.AttemptSucceeded, callout.MessageSucceeded)
	ep, _ = e.GetEndpoint(e.ctx, "103", "ep1")
	if ep.FailingSince != nil {
		t.Errorf("failing since = %v after a success", ep.FailingSince)
	}
	d, _ = e.GetMessageDelivery(e.ctx, k)
	if d.Message.Status != callout.MessageSucceeded || d.Message.Attempts != 2 || d.Message.LastOutcome != callout.AttemptSucceeded {
		t.Errorf("message = %+v", d.Message)
	}
	atts, next, err := e.ListAttempts(e.ctx, callout.AttemptFilter{ManufacturerID: "103", EndpointID: "ep1"})
	if err != nil || len(atts) != 2 || next != "" || atts[0].Number != 2 || atts[1].RequestHeaders["Authorization"] != "[redacted]" || string(atts[1].ResponseBody) != "oops" {
		t.Errorf("ListAttempts = %+v, %q, %v", atts, next, err)
	}
	atts, _, _ = e.ListAttempts(e.ctx, callout.AttemptFilter{ManufacturerID: "103", EndpointID: "ep1", Outcome: callout.AttemptHTTPError, Limit: 1})
	if len(atts) != 1 || atts[0].Number != 1 {
		t.Errorf("ListAttempts(outcome) = %+v", atts)
	}
}

func testAutoDisable(t *testing.T, open opener) {
	e := newEnv(t, open)
	rec := e.recorder()
	e.manufacturer(t, "103")
	e.endpoint(t, endpoint("103", "ep1"))
	e.publish(t, "103", "a", "{}")
	second := e.publish(t, "103", "b", "{}")
	keys := rec.take()
	if e.attempt(t, keys[0], 1, callout.AttemptHTTPError, callout.MessagePending) {
		t.Fatal("disabled after one failure")
	}
	e.clock.Add(47 * time.Hour)
	if e.attempt(t, keys[0], 2, callout.AttemptHTTPError, callout.MessagePending) {
		t.Fatal("disabled before the period")
	}
	e.clock.Add(time.Hour)
	if !e.attempt(t, keys[0], 3, callout.AttemptHTTPError, callout.MessagePending) {
		t.Fatal("not disabled after failing for the whole period")
	}
	ep, _ := e.GetEndpoint(e.ctx, "103", "ep1")
	if ep.Enabled || ep.DisabledReason == "" {
		t.Errorf("endpoint = enabled %v, reason %q", ep.Enabled, ep.DisabledReason)
	}
	if got := e.messages(t, "103", second.Event.ID); got["ep1"] != callout.MessageFailed {
		t.Errorf("pending message of a disabled endpoint = %v, want failed", got)
	}
	if res := e.publish(t, "103", "c", "{}"); res.Messages != 0 {
		t.Errorf("a disabled endpoint got %d new messages", res.Messages)
	}
}

func testRedeliverRecover(t *testing.T, open opener) {
	e := newEnv(t, open)
	rec := e.recorder()
	e.manufacturer(t, "103")
	e.endpoint(t, endpoint("103", "ep1"))
	e.endpoint(t, endpoint("103", "ep2"))
	first := e.publish(t, "103", "a", "{}")
	e.clock.Add(time.Hour)
	second := e.publish(t, "103", "a", "{}")
	keys := rec.take()
	for _, k := range keys {
		e.attempt(t, k, 1, callout.AttemptHTTPError, callout.MessageFailed)
	}

	n, err := e.Redeliver(e.ctx, "103", first.Event.ID, "ep1")
	if err != nil || n != 1 {
		t.Fatalf("Redeliver(ep1) = %d, %v", n, err)
	}
	if got := e.messages(t, "103", first.Event.ID); got["ep1"] != "pending" || got["ep2"] != "failed" {
		t.Errorf("after redeliver to ep1: %v", got)
	}
	if k := rec.take(); len(k) != 1 || k[0].EndpointID != "ep1" {
		t.Errorf("redeliver enqueued %v", k)
	}
	if n, _ := e.Redeliver(e.ctx, "103", first.Event.ID, ""); n != 2 {
		t.Errorf("Redeliver(all) = %d, want 2", n)
	}
	_, err = e.Redeliver(e.ctx, "103", "nope", "")
	wantCode(t, err, callout.ECodeNotFound)
	_, err = e.Redeliver(e.ctx, "103", first.Event.ID, "nope")
	wantCode(t, err, callout.ECodeNotFound)
	rec.take()

	// Recover: only failed messages of the window.
	n, err = e.Recover(e.ctx, "103", "ep2", second.Event.Timestamp, time.Time{})
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1", n, err)
	}
	if k := rec.take(); len(k) != 1 || k[0].EventID != second.Event.ID {
		t.Errorf("recover enqueued %v", k)
	}
	if n, _ := e.Recover(e.ctx, "103", "ep2", start.Add(-time.Hour), time.Time{}); n != 0 {
		t.Errorf("Recover again = %d, want 0 (nothing failed any more)", n)
	}
	_, err = e.Recover(e.ctx, "103", "nope", start, time.Time{})
	wantCode(t, err, callout.ECodeNotFound)
}

// testManyEndpoints: an event to more endpoints than one statement inserts
// messages for gets every message, and so does its redelivery.
func testManyEndpoints(t *testing.T, open opener) {
	e := newEnv(t, open)
	rec := e.recorder()
	e.manufacturer(t, "103")
	n := 2*messageRows + 1
	for i := range n {
		e.endpoint(t, endpoint("103", fmt.Sprintf("ep%02d", i)))
	}
	res := e.publish(t, "103", "a", "{}")
	keys := rec.take()
	if res.Messages != n || len(keys) != n {
		t.Fatalf("published to %d endpoints: %d messages, %d enqueued", n, res.Messages, len(keys))
	}
	for _, k := range keys {
		e.attempt(t, k, 1, callout.AttemptHTTPError, callout.MessageFailed)
	}
	if got, err := e.Redeliver(e.ctx, "103", res.Event.ID, ""); err != nil || got != n {
		t.Fatalf("Redeliver = %d, %v; want %d", got, err, n)
	}
	msgs := e.messages(t, "103", res.Event.ID)
	for i := range n {
		if id := fmt.Sprintf("ep%02d", i); msgs[id] != callout.MessagePending {
			t.Errorf("message for %s after redeliver: %q, want pending", id, msgs[id])
		}
	}
	if len(msgs) != n || len(rec.take()) != n {
		t.Errorf("after redeliver: %d messages, want %d", len(msgs), n)
	}
}

func testEventPages(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	var ids []string
	for i := 0; i < 5; i++ {
		typ := "a"
		if i%2 == 1 {
			typ = "b"
		}
		ids = append(ids, e.publish(t, "103", typ, "{}").Event.ID)
		e.clock.Add(time.Second)
	}
	var got []string
	cursor := ""
	for {
		page, next, err := e.ListEvents(e.ctx, callout.EventFilter{ManufacturerID: "103", Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page {
			got = append(got, ev.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}; !cmp.Equal(got, want) {
		t.Errorf("pages = %v, want %v", got, want)
	}
	page, _, _ := e.ListEvents(e.ctx, callout.EventFilter{ManufacturerID: "103", Type: "b"})
	if len(page) != 2 {
		t.Errorf("type filter gave %d events, want 2", len(page))
	}
	page, _, _ = e.ListEvents(e.ctx, callout.EventFilter{ManufacturerID: "103", Since: start.Add(time.Second), Until: start.Add(3 * time.Second)})
	if len(page) != 2 || page[0].ID != ids[2] {
		t.Errorf("time window gave %v", page)
	}
	_, _, err := e.ListEvents(e.ctx, callout.EventFilter{ManufacturerID: "103", Cursor: "!!"})
	wantCode(t, err, callout.ECodeInvalid)
}

func testEventTypes(t *testing.T, open opener) {
	e := newEnv(t, open)
	if err := e.PutEventType(e.ctx, &callout.EventType{Name: "moved_to_ready", Description: "d1", Example: []byte(`{"b": 1, "a": 2}`)}); err != nil {
		t.Fatal(err)
	}
	if err := e.PutEventType(e.ctx, &callout.EventType{Name: "moved_to_ready", Description: "d2", Example: []byte(`{"b": 1, "a": 2}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.ListEventTypes(e.ctx)
	if err != nil || len(got) != 1 || got[0].Description != "d2" || string(got[0].Example) != `{"b": 1, "a": 2}` {
		t.Errorf("ListEventTypes = %+v, %v", got, err)
	}
}

func testPruneEvents(t *testing.T, open opener) {
	e := newEnv(t, open)
	rec := e.recorder()
	e.manufacturer(t, "103")
	e.endpoint(t, endpoint("103", "ep1"))
	for i := 0; i < 5; i++ {
		e.publish(t, "103", "a", "{}")
	}
	for i, k := range rec.take() {
		e.attempt(t, k, i+1, callout.AttemptSucceeded, callout.MessageSucceeded)
	}
	e.clock.Add(time.Hour)
	kept := e.publish(t, "103", "a", "{}")
	n, err := e.PruneEvents(e.ctx, e.clock.Now(), 2)
	if err != nil || n != 10 {
		t.Fatalf("PruneEvents = %d, %v; want 10 (5 attempts, 5 events)", n, err)
	}
	evs, _, _ := e.ListEvents(e.ctx, callout.EventFilter{ManufacturerID: "103"})
	if len(evs) != 1 || evs[0].ID != kept.Event.ID {
		t.Errorf("events left = %v", evs)
	}
	var msgs int
	e.db.QueryRow(`SELECT COUNT(*) FROM event_messages`).Scan(&msgs)
	if msgs != 1 {
		t.Errorf("%d messages left, want 1 (pruned with their events)", msgs)
	}
}
