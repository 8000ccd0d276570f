package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/callout/callout"
	"github.com/callout/callout/internal/clocktest"
	"github.com/callout/callout/secret"
)

var _ Sealer = (*secret.Box)(nil)

// opener opens a store for one test. o carries the Sealer and the clock; when
// it names no database, the opener creates a fresh, empty one and sets o to
// it, so that the test can open it again (as a second process would).
type opener func(t *testing.T, o *Options) *Store

func TestSQLite(t *testing.T) {
	testStore(t, openSQLite)
}

func TestPostgres(t *testing.T) {
	if os.Getenv("CALLOUT_TEST_DATABASE_URL") == "" {
		t.Skip("CALLOUT_TEST_DATABASE_URL is not set")
	}
	testStore(t, openPostgres)
}

func openSQLite(t *testing.T, o *Options) *Store {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = filepath.Join(t.TempDir(), "data")
	}
	s, err := Open(context.Background(), *o)
	if err != nil {
		t.Fatalf("Open(SQLite): %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openPostgres opens a store in a schema of its own, dropped when the test
// ends. It skips the test when CALLOUT_TEST_DATABASE_URL is unset.
func openPostgres(t *testing.T, o *Options) *Store {
	t.Helper()
	base := os.Getenv("CALLOUT_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("CALLOUT_TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	if o.URL != "" {
		s, err := Open(ctx, *o)
		if err != nil {
			t.Fatalf("Open(PostgreSQL): %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("opening PostgreSQL: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "t_" + randomHex(t, 8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("CALLOUT_TEST_DATABASE_URL is not a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	o.URL = u.String()
	s, err := Open(ctx, *o)
	if err != nil {
		t.Fatalf("Open(PostgreSQL): %v", err)
	}
	// Registered after the schema's cleanup, so it runs before it.
	t.Cleanup(func() { s.Close() })
	return s
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// start is deliberately not UTC and finer than a microsecond: the store
// returns times in UTC at microsecond precision.
var start = time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.FixedZone("AEDT", 11*3600))

func newBox(t *testing.T) *secret.Box {
	t.Helper()
	key := make([]byte, secret.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// env is one test's store and clock, with helpers to create fixtures.
type env struct {
	*Store
	clock *clocktest.Clock
	ctx   context.Context
	open  opener
	opts  Options
}

func newEnv(t *testing.T, open opener) *env {
	t.Helper()
	c := clocktest.New(start)
	e := &env{clock: c, ctx: context.Background(), open: open, opts: Options{Sealer: newBox(t), Now: c.Now}}
	e.Store = open(t, &e.opts)
	return e
}

// another opens a second store on the same database, as another process
// would.
func (e *env) another(t *testing.T) *Store {
	t.Helper()
	o := e.opts
	return e.open(t, &o)
}

// utc is how the store returns a time: UTC, microsecond precision.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func (e *env) manufacturer(t *testing.T, id string) {
	t.Helper()
	if _, _, err := e.PutManufacturer(e.ctx, id, "Manufacturer "+id); err != nil {
		t.Fatalf("PutManufacturer(%s): %v", id, err)
	}
}

func (e *env) customer(t *testing.T, m, id string) *callout.Customer {
	t.Helper()
	c := &callout.Customer{ManufacturerID: m, ID: id, Document: json.RawMessage(fmt.Sprintf(`{"id": %q}`, id))}
	if _, err := e.PutCustomer(e.ctx, c); err != nil {
		t.Fatalf("PutCustomer(%s/%s): %v", m, id, err)
	}
	return c
}

func (e *env) job(t *testing.T, m, id, customerID string) *callout.Job {
	t.Helper()
	j := &callout.Job{ManufacturerID: m, ID: id, CustomerID: customerID,
		Document: json.RawMessage(fmt.Sprintf(`{"id": %q, "customerId": %q}`, id, customerID)),
		Export:   json.RawMessage(`{"JobNumber": 1}`)}
	if err := e.PutJob(e.ctx, j, nil); err != nil {
		t.Fatalf("PutJob(%s/%s): %v", m, id, err)
	}
	return j
}

// jobWithCustomer creates manufacturer m, a customer and job id.
func (e *env) jobWithCustomer(t *testing.T, m, id string) *callout.Job {
	t.Helper()
	e.manufacturer(t, m)
	e.customer(t, m, "c1")
	return e.job(t, m, id, "c1")
}

func (e *env) getJob(t *testing.T, m, id string) *callout.Job {
	t.Helper()
	j, err := e.GetJob(e.ctx, m, id)
	if err != nil {
		t.Fatalf("GetJob(%s/%s): %v", m, id, err)
	}
	return j
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := callout.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (error %v), want %q", got, err, code)
	}
}

// testStore is the contract every database must meet.
func testStore(t *testing.T, open opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open opener)
	}{
		{"Migrate", testMigrate},
		{"Installation", testInstallation},
		{"Manufacturers", testManufacturers},
		{"Webhooks", testWebhooks},
		{"WebhookSecretsSealed", testWebhookSecretsSealed},
		{"Customers", testCustomers},
		{"DocumentsByteForByte", testDocumentsByteForByte},
		{"PutJob", testPutJob},
		{"TenantIsolation", testTenantIsolation},
		{"Claim", testClaim},
		{"ClaimConcurrent", testClaimConcurrent},
		{"FinishAccepted", testFinishAccepted},
		{"FinishRejected", testFinishRejected},
		{"FinishClaimLost", testFinishClaimLost},
		{"PutJobWhileClaimed", testPutJobWhileClaimed},
		{"PutJobClaimedElsewhere", testPutJobClaimedElsewhere},
		{"Idempotency", testIdempotency},
		{"Pricing", testPricing},
		{"PricingOfReplacedDocuments", testPricingOfReplacedDocuments},
		{"PricingInputs", testPricingInputs},
		{"PricingInputsSeeEveryChange", testPricingInputsSeeEveryChange},
		{"Deliveries", testDeliveries},
		{"DeliveryPages", testDeliveryPages},
		{"PruneDeliveries", testPruneDeliveries},
		{"ConcurrentWritesFailAlone", testConcurrentWritesFailAlone},
		{"ConsoleLinks", testConsoleLinks},
		{"ConsoleSessions", testConsoleSessions},
		{"PruneConsole", testPruneConsole},
		{"Events", testEvents},
		{"ConcurrentDeliveriesFailAlone", testConcurrentDeliveriesFailAlone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

func testMigrate(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	for i := range 2 {
		if err := e.Migrate(e.ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	if err := e.Ping(e.ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := e.GetManufacturer(e.ctx, "103"); err != nil {
		t.Fatalf("GetManufacturer after migrating again: %v", err)
	}
}

func testManufacturers(t *testing.T, open opener) {
	e := newEnv(t, open)
	_, err := e.GetManufacturer(e.ctx, "103")
	wantCode(t, err, callout.ECodeNotFound)

	m, created, err := e.PutManufacturer(e.ctx, "103", "Example")
	if err != nil {
		t.Fatalf("PutManufacturer: %v", err)
	}
	want := &callout.Manufacturer{ID: "103", Name: "Example", CreatedAt: utc(start), UpdatedAt: utc(start)}
	if !created {
		t.Errorf("created = false for a new manufacturer, want true")
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("PutManufacturer (-want +got):\n%s", diff)
	}

	e.clock.Add(time.Hour)
	m, created, err = e.PutManufacturer(e.ctx, "103", "Renamed")
	if err != nil {
		t.Fatalf("PutManufacturer (rename): %v", err)
	}
	if created {
		t.Errorf("created = true for a rename, want false")
	}
	want = &callout.Manufacturer{ID: "103", Name: "Renamed", CreatedAt: utc(start), UpdatedAt: utc(start.Add(time.Hour))}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("PutManufacturer (rename) (-want +got):\n%s", diff)
	}
	got, err := e.GetManufacturer(e.ctx, "103")
	if err != nil {
		t.Fatalf("GetManufacturer: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetManufacturer (-want +got):\n%s", diff)
	}
	if loc := got.UpdatedAt.Location(); loc != time.UTC {
		t.Errorf("UpdatedAt location = %v, want UTC", loc)
	}
}

// fullWebhook has every setting and every secret set.
func fullWebhook(m string, kind callout.Kind) *callout.Webhook {
	return &callout.Webhook{
		ManufacturerID: m, Kind: kind, Enabled: true, URL: "https://erp.example.com/hooks/" + string(kind),
		Auth: callout.Auth{Type: callout.AuthAuth0, BearerToken: "bearer-" + m + "-" + string(kind),
			Auth0: callout.Auth0{TenantDomain: "example.au.auth0.com", ClientID: "client-id",
				ClientSecret: "client-secret-" + m + "-" + string(kind), Audience: "https://erp.example.com"}},
		ExportFormat: callout.ExportXML, TimeoutMS: 4500, Retries: 2, GenericErrorMessage: "Call us",
		Breaker:       callout.BreakerSettings{ConsecutiveFailures: 7, OpenSeconds: 45},
		SigningSecret: "whsec_c2lnbmluZy1zZWNyZXQtb2YtMjQtYnl0ZXMh", CacheSeconds: 60,
	}
}

func testWebhooks(t *testing.T, open opener) {
	e := newEnv(t, open)
	err := e.PutWebhook(e.ctx, fullWebhook("103", callout.KindPricing))
	wantCode(t, err, callout.ECodeNotFound)

	e.manufacturer(t, "103")
	_, err = e.GetWebhook(e.ctx, "103", callout.KindPricing)
	wantCode(t, err, callout.ECodeNotFound)

	w := fullWebhook("103", callout.KindPricing)
	if err := e.PutWebhook(e.ctx, w); err != nil {
		t.Fatalf("PutWebhook: %v", err)
	}
	if want := utc(start); !w.UpdatedAt.Equal(want) {
		t.Errorf("UpdatedAt = %v, want %v", w.UpdatedAt, want)
	}
	got, err := e.GetWebhook(e.ctx, "103", callout.KindPricing)
	if err != nil {
		t.Fatalf("GetWebhook: %v", err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("GetWebhook (-want +got):\n%s", diff)
	}

	// Replacing: secrets removed are gone, not kept.
	e.clock.Add(time.Minute)
	w2 := callout.NewWebhook("103", callout.KindPricing)
	w2.URL = "https://other.example.com/price"
	if err := e.PutWebhook(e.ctx, w2); err != nil {
		t.Fatalf("PutWebhook (replace): %v", err)
	}
	got, err = e.GetWebhook(e.ctx, "103", callout.KindPricing)
	if err != nil {
		t.Fatalf("GetWebhook: %v", err)
	}
	if diff := cmp.Diff(w2, got); diff != "" {
		t.Errorf("GetWebhook after replace (-want +got):\n%s", diff)
	}
	var nulls int
	if err := e.db.QueryRow(`SELECT COUNT(*) FROM webhooks WHERE bearer_token IS NULL AND auth0_client_secret IS NULL AND signing_secret IS NULL`).Scan(&nulls); err != nil {
		t.Fatal(err)
	}
	if nulls != 1 {
		t.Errorf("webhooks with every secret NULL = %d, want 1 (empty secrets are stored as NULL)", nulls)
	}

	// The other kind is another row.
	_, err = e.GetWebhook(e.ctx, "103", callout.KindSubmission)
	wantCode(t, err, callout.ECodeNotFound)

	if err := e.DeleteWebhook(e.ctx, "103", callout.KindPricing); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	_, err = e.GetWebhook(e.ctx, "103", callout.KindPricing)
	wantCode(t, err, callout.ECodeNotFound)
	wantCode(t, e.DeleteWebhook(e.ctx, "103", callout.KindPricing), callout.ECodeNotFound)
}

func testWebhookSecretsSealed(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	e.manufacturer(t, "104")
	for _, w := range []*callout.Webhook{fullWebhook("103", callout.KindSubmission), fullWebhook("104", callout.KindSubmission), fullWebhook("103", callout.KindPricing)} {
		if err := e.PutWebhook(e.ctx, w); err != nil {
			t.Fatalf("PutWebhook: %v", err)
		}
	}
	secrets := []string{"bearer-103-submission", "client-secret-103-submission", "whsec_c2lnbmluZy1zZWNyZXQtb2YtMjQtYnl0ZXMh"}
	rows, err := e.db.Query(`SELECT bearer_token, auth0_client_secret, signing_secret FROM webhooks`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b, c []byte
		if err := rows.Scan(&a, &b, &c); err != nil {
			t.Fatal(err)
		}
		for _, col := range [][]byte{a, b, c} {
			for i, s := range secrets {
				if bytes.Contains(col, []byte(s)) {
					t.Errorf("a secret column holds secret #%d in clear", i)
				}
			}
		}
	}
	rows.Close()

	// A sealed value moved to another webhook, or another field, does not open.
	moves := []struct {
		name, query string
		m           string
		kind        callout.Kind
	}{
		{"to another manufacturer", `UPDATE webhooks SET bearer_token = (SELECT bearer_token FROM webhooks WHERE manufacturer_id = '103' AND kind = 'submission') WHERE manufacturer_id = '104'`, "104", callout.KindSubmission},
		{"to another kind", `UPDATE webhooks SET auth0_client_secret = (SELECT auth0_client_secret FROM webhooks WHERE manufacturer_id = '103' AND kind = 'submission') WHERE manufacturer_id = '103' AND kind = 'pricing'`, "103", callout.KindPricing},
		{"to another field", `UPDATE webhooks SET signing_secret = bearer_token WHERE manufacturer_id = '103' AND kind = 'submission'`, "103", callout.KindSubmission},
	}
	for _, mv := range moves {
		t.Run(mv.name, func(t *testing.T) {
			if _, err := e.db.Exec(mv.query); err != nil {
				t.Fatal(err)
			}
			_, err := e.GetWebhook(e.ctx, mv.m, mv.kind)
			if !errors.Is(err, secret.ErrOpen) {
				t.Fatalf("GetWebhook after moving a sealed value: error %v, want secret.ErrOpen", err)
			}
			msg := err.Error()
			if !bytes.Contains([]byte(msg), []byte(mv.m)) || !bytes.Contains([]byte(msg), []byte(mv.kind)) {
				t.Errorf("error %q does not name the webhook %s/%s", msg, mv.m, mv.kind)
			}
			for i, s := range secrets {
				if bytes.Contains([]byte(msg), []byte(s)) {
					t.Errorf("error message holds secret #%d", i)
				}
			}
		})
	}
}

func testCustomers(t *testing.T, open opener) {
	e := newEnv(t, open)
	doc := json.RawMessage(`{"id":27465,  "name" : "Test"}`)
	_, err := e.PutCustomer(e.ctx, &callout.Customer{ManufacturerID: "103", ID: "27465", Document: doc})
	wantCode(t, err, callout.ECodeNotFound)

	e.manufacturer(t, "103")
	c := &callout.Customer{ManufacturerID: "103", ID: "27465", Document: doc}
	if created, err := e.PutCustomer(e.ctx, c); err != nil || !created {
		t.Fatalf("PutCustomer: created %v, %v; want true", created, err)
	}
	if want := utc(start); !c.UpdatedAt.Equal(want) {
		t.Errorf("UpdatedAt = %v, want %v", c.UpdatedAt, want)
	}
	e.clock.Add(time.Second)
	c.Document = json.RawMessage(`{"id":27465,"name":"Renamed"}`)
	if created, err := e.PutCustomer(e.ctx, c); err != nil || created {
		t.Fatalf("PutCustomer (replace): created %v, %v; want false", created, err)
	}
	got, err := e.GetCustomer(e.ctx, "103", "27465")
	if err != nil {
		t.Fatalf("GetCustomer: %v", err)
	}
	want := &callout.Customer{ManufacturerID: "103", ID: "27465", Document: c.Document, UpdatedAt: utc(start.Add(time.Second))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetCustomer (-want +got):\n%s", diff)
	}
	_, err = e.GetCustomer(e.ctx, "103", "other")
	wantCode(t, err, callout.ECodeNotFound)
}

// documents returns the job, export and customer documents to round-trip: the
// package's own, with odd spacing and numeric literals, and the seed's when
// the repository holds them.
func documents(t *testing.T) (job, export, customer [][]byte) {
	t.Helper()
	for _, dir := range []string{"testdata", filepath.Join("..", "testdata", "seed001")} {
		read := func(name string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil
			}
			return b
		}
		j, x, c := read("job.json"), read("export.json"), read("customer.json")
		if j == nil || x == nil || c == nil {
			if dir == "testdata" {
				t.Fatalf("testdata documents missing")
			}
			continue
		}
		job, export, customer = append(job, j), append(export, x), append(customer, c)
	}
	return job, export, customer
}

func testDocumentsByteForByte(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	jobs, exports, customers := documents(t)
	for i := range jobs {
		id := fmt.Sprint(i)
		c := &callout.Customer{ManufacturerID: "103", ID: "c" + id, Document: customers[i]}
		j := &callout.Job{ManufacturerID: "103", ID: "j" + id, CustomerID: c.ID, Document: jobs[i], Export: exports[i]}
		if err := e.PutJob(e.ctx, j, c); err != nil {
			t.Fatalf("PutJob: %v", err)
		}
		gotJob := e.getJob(t, "103", j.ID)
		if !bytes.Equal(gotJob.Document, jobs[i]) {
			t.Errorf("job document #%d changed:\ngot  %q\nwant %q", i, gotJob.Document, jobs[i])
		}
		if !bytes.Equal(gotJob.Export, exports[i]) {
			t.Errorf("export document #%d changed:\ngot  %q\nwant %q", i, gotJob.Export, exports[i])
		}
		gotCustomer, err := e.GetCustomer(e.ctx, "103", c.ID)
		if err != nil {
			t.Fatalf("GetCustomer: %v", err)
		}
		if !bytes.Equal(gotCustomer.Document, customers[i]) {
			t.Errorf("customer document #%d changed:\ngot  %q\nwant %q", i, gotCustomer.Document, customers[i])
		}
		// The claimed job carries the same documents.
		claimed, err := e.ClaimSubmission(e.ctx, "103", j.ID, "claim", start.Add(time.Minute))
		if err != nil {
			t.Fatalf("ClaimSubmission: %v", err)
		}
		if !bytes.Equal(claimed.Document, jobs[i]) || !bytes.Equal(claimed.Export, exports[i]) {
			t.Errorf("claimed job #%d documents changed", i)
		}
	}
}

func testPutJob(t *testing.T, open opener) {
	e := newEnv(t, open)
	newJob := func(customerID, doc string) *callout.Job {
		return &callout.Job{ManufacturerID: "103", ID: "338167", CustomerID: customerID,
			Document: json.RawMessage(doc), Export: json.RawMessage(`{"x":` + doc + `}`)}
	}
	wantCode(t, e.PutJob(e.ctx, newJob("27465", `{"v":0}`), nil), callout.ECodeNotFound)
	e.manufacturer(t, "103")

	t.Run("missing customer", func(t *testing.T) {
		err := e.PutJob(e.ctx, newJob("27465", `{"v":0}`), nil)
		var ce *callout.Error
		if !errors.As(err, &ce) || ce.Code != callout.ECodeInvalid || len(ce.Fields) != 1 || ce.Fields[0].Field != "job.customerId" {
			t.Fatalf("PutJob without customer: error %v, want validation_failed on job.customerId", err)
		}
		_, err = e.GetJob(e.ctx, "103", "338167")
		wantCode(t, err, callout.ECodeNotFound)
	})

	t.Run("inline customer", func(t *testing.T) {
		inline := &callout.Customer{ManufacturerID: "103", ID: "27465", Document: json.RawMessage(`{"id": 27465}`)}
		j := newJob("27465", `{"v":1}`)
		if err := e.PutJob(e.ctx, j, inline); err != nil {
			t.Fatalf("PutJob with inline customer: %v", err)
		}
		want := &callout.Job{ManufacturerID: "103", ID: "338167", CustomerID: "27465", Status: callout.JobProcessing,
			Revision: 1, UpdatedAt: utc(start), Document: j.Document, Export: j.Export}
		if diff := cmp.Diff(want, j, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("job after PutJob (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, e.getJob(t, "103", "338167"), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("GetJob (-want +got):\n%s", diff)
		}
		c, err := e.GetCustomer(e.ctx, "103", "27465")
		if err != nil {
			t.Fatalf("GetCustomer of the inline customer: %v", err)
		}
		if string(c.Document) != `{"id": 27465}` || !inline.UpdatedAt.Equal(utc(start)) {
			t.Errorf("inline customer = %s at %v, want stored at %v", c.Document, inline.UpdatedAt, utc(start))
		}
	})

	t.Run("replace keeps state", func(t *testing.T) {
		pricing := &callout.Pricing{Cost: "10.50", Source: callout.PricingWebhook, PricedAt: start, Revision: 1,
			Messages: []string{}, Breakdown: []callout.BreakdownNode{}}
		if err := e.SavePricing(e.ctx, "103", "338167", pricing, nil); err != nil {
			t.Fatalf("SavePricing: %v", err)
		}
		e.clock.Add(time.Minute)
		j := newJob("27465", `{"v":2}`)
		if err := e.PutJob(e.ctx, j, nil); err != nil {
			t.Fatalf("PutJob (replace): %v", err)
		}
		if j.Revision != 2 || j.Status != callout.JobProcessing || !j.UpdatedAt.Equal(utc(e.clock.Now())) {
			t.Errorf("replaced job: revision %d, status %s, updated %v; want 2, processing, %v", j.Revision, j.Status, j.UpdatedAt, utc(e.clock.Now()))
		}
		if j.Pricing == nil || j.Pricing.Cost != "10.50" || j.Pricing.Revision != 1 {
			t.Errorf("replaced job pricing = %+v, want the saved pricing of revision 1", j.Pricing)
		}
		got := e.getJob(t, "103", "338167")
		if string(got.Document) != `{"v":2}` || string(got.Export) != `{"x":{"v":2}}` || got.Revision != 2 {
			t.Errorf("GetJob after replace: document %s, export %s, revision %d; want the new documents at revision 2", got.Document, got.Export, got.Revision)
		}
	})

	t.Run("submitted job refused", func(t *testing.T) {
		if _, err := e.ClaimSubmission(e.ctx, "103", "338167", "claim-1", e.clock.Now().Add(time.Minute)); err != nil {
			t.Fatalf("ClaimSubmission: %v", err)
		}
		if err := e.FinishSubmission(e.ctx, &callout.SubmissionResult{ManufacturerID: "103", JobID: "338167", ClaimID: "claim-1",
			Accepted: true, ExternalID: "JPS-1", Response: callout.Response{Status: 200, Body: []byte(`{}`)}}); err != nil {
			t.Fatalf("FinishSubmission: %v", err)
		}
		before := e.getJob(t, "103", "338167")
		e.clock.Add(time.Minute)
		err := e.PutJob(e.ctx, newJob("27465", `{"v":3}`), &callout.Customer{ManufacturerID: "103", ID: "27465", Document: json.RawMessage(`{"changed":true}`)})
		wantCode(t, err, callout.ECodeJobSubmitted)
		if diff := cmp.Diff(before, e.getJob(t, "103", "338167")); diff != "" {
			t.Errorf("submitted job changed by a refused PutJob (-before +after):\n%s", diff)
		}
		c, err := e.GetCustomer(e.ctx, "103", "27465")
		if err != nil {
			t.Fatal(err)
		}
		if string(c.Document) != `{"id": 27465}` {
			t.Errorf("inline customer of a refused PutJob was stored: %s", c.Document)
		}
	})
}

func testTenantIsolation(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.jobWithCustomer(t, "A", "j1")
	e.manufacturer(t, "B")
	if err := e.PutWebhook(e.ctx, fullWebhook("A", callout.KindSubmission)); err != nil {
		t.Fatal(err)
	}
	if err := e.InsertDelivery(e.ctx, delivery("A", "d1", start)); err != nil {
		t.Fatal(err)
	}
	if err := e.PutIdempotency(e.ctx, "A", "key", "j1", callout.Response{Status: 200}); err != nil {
		t.Fatal(err)
	}

	_, err := e.GetJob(e.ctx, "B", "j1")
	wantCode(t, err, callout.ECodeNotFound)
	_, err = e.GetCustomer(e.ctx, "B", "c1")
	wantCode(t, err, callout.ECodeNotFound)
	_, err = e.GetWebhook(e.ctx, "B", callout.KindSubmission)
	wantCode(t, err, callout.ECodeNotFound)
	_, err = e.GetDelivery(e.ctx, "B", "d1")
	wantCode(t, err, callout.ECodeNotFound)
	_, err = e.GetIdempotency(e.ctx, "B", "key")
	wantCode(t, err, callout.ECodeNotFound)
	_, err = e.ClaimSubmission(e.ctx, "B", "j1", "claim", start.Add(time.Minute))
	wantCode(t, err, callout.ECodeNotFound)
	wantCode(t, e.SavePricing(e.ctx, "B", "j1", &callout.Pricing{Cost: "1"}, nil), callout.ECodeNotFound)
	wantCode(t, e.DeleteWebhook(e.ctx, "B", callout.KindSubmission), callout.ECodeNotFound)
	list, _, err := e.ListDeliveries(e.ctx, callout.DeliveryFilter{ManufacturerID: "B"})
	if err != nil || len(list) != 0 {
		t.Errorf("ListDeliveries(B) = %d deliveries, %v; want none", len(list), err)
	}
	// B's job cannot name A's customer.
	err = e.PutJob(e.ctx, &callout.Job{ManufacturerID: "B", ID: "j1", CustomerID: "c1", Document: json.RawMessage(`{}`)}, nil)
	wantCode(t, err, callout.ECodeInvalid)
	// B's attempts left A's job unclaimed.
	if _, err := e.ClaimSubmission(e.ctx, "A", "j1", "claim-a", start.Add(time.Minute)); err != nil {
		t.Errorf("ClaimSubmission(A) after B's attempts: %v", err)
	}
}

// testConcurrentWritesFailAlone runs many write transactions at once, half of
// them failing (replacing a submitted job after storing its inline customer,
// a price for no such job):
// each failure is reported to its own caller and undoes only its own writes,
// even where SQLite groups concurrent transactions into one commit.
func testConcurrentWritesFailAlone(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.jobWithCustomer(t, "103", "j0")
	e.job(t, "103", "js", "c1")
	if _, err := e.ClaimSubmission(e.ctx, "103", "js", "claim", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := e.FinishSubmission(e.ctx, &callout.SubmissionResult{ManufacturerID: "103", JobID: "js", ClaimID: "claim",
		Accepted: true, SubmittedAt: start, Response: callout.Response{Status: 200, Body: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("j%d", i+1)
			delivery := delivery("103", "d"+id, start)
			switch i % 4 {
			case 0: // valid: a new job with an inline customer
				c := &callout.Customer{ManufacturerID: "103", ID: "c" + id, Document: json.RawMessage(`{}`)}
				errs[i] = e.PutJob(e.ctx, &callout.Job{ManufacturerID: "103", ID: id, CustomerID: c.ID, Document: json.RawMessage(`{}`)}, c)
			case 1: // fails after writing: its inline customer must be undone
				c := &callout.Customer{ManufacturerID: "103", ID: "c" + id, Document: json.RawMessage(`{}`)}
				errs[i] = e.PutJob(e.ctx, &callout.Job{ManufacturerID: "103", ID: "js", CustomerID: c.ID, Document: json.RawMessage(`{}`)}, c)
			case 2: // valid: a price with its delivery
				errs[i] = e.SavePricing(e.ctx, "103", "j0", &callout.Pricing{Cost: json.Number(fmt.Sprint(i)), Revision: 1}, delivery)
			case 3: // fails: no such job, and its delivery must not be kept
				errs[i] = e.SavePricing(e.ctx, "103", id, &callout.Pricing{Cost: "1"}, delivery)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		id := fmt.Sprintf("j%d", i+1)
		switch i % 4 {
		case 0:
			if err != nil {
				t.Errorf("valid job %s: %v", id, err)
			} else if _, err := e.GetJob(e.ctx, "103", id); err != nil {
				t.Errorf("job %s was reported stored but reads %v", id, err)
			}
		case 1:
			wantCode(t, err, callout.ECodeJobSubmitted)
			if _, err := e.GetCustomer(e.ctx, "103", "c"+id); callout.ErrorCode(err) != callout.ECodeNotFound {
				t.Errorf("the inline customer of a refused job was kept: %v", err)
			}
		case 2:
			if err != nil {
				t.Errorf("valid price %d: %v", i, err)
			} else if _, err := e.GetDelivery(e.ctx, "103", "d"+id); err != nil {
				t.Errorf("delivery of price %d: %v", i, err)
			}
		case 3:
			wantCode(t, err, callout.ECodeNotFound)
			if _, err := e.GetDelivery(e.ctx, "103", "d"+id); callout.ErrorCode(err) != callout.ECodeNotFound {
				t.Errorf("the delivery of a refused price was kept: %v", err)
			}
		}
	}
}
