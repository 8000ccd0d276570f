package fakemanufacturer_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callout/callout/internal/fakemanufacturer"
)

// reply is what a client got from the fake.
type reply struct {
	status      int
	contentType string
	retryAfter  string
	body        string
}

// post sends body to path on m and returns the reply.
func post(t *testing.T, m *fakemanufacturer.Server, path, body string) reply {
	t.Helper()
	r, err := send(m.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is post for a goroutine other than the test's: it returns its error.
func send(url, body string) (reply, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), string(data)}, err
}

// sendAll sends body to m in a goroutine per request, and returns the
// channel their replies arrive on, a failed request's as status 0.
func sendAll(m *fakemanufacturer.Server, n int) <-chan reply {
	replies := make(chan reply, n)
	for range n {
		go func() {
			r, _ := send(m.URL, "")
			replies <- r
		}()
	}
	return replies
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name string
		set  func(*fakemanufacturer.Server)
		want []reply
	}{
		{"accepts by default", func(*fakemanufacturer.Server) {}, []reply{
			{200, "application/json", "", `{"success": true}`},
		}},
		{"one answer to every request", func(m *fakemanufacturer.Server) { m.Answer(503, `{"errors": ["busy"]}`) }, []reply{
			{503, "application/json", "", `{"errors": ["busy"]}`},
			{503, "application/json", "", `{"errors": ["busy"]}`},
		}},
		{"answers in turn, then the last again", func(m *fakemanufacturer.Server) {
			m.Answers(
				fakemanufacturer.Answer{Status: 429, Header: http.Header{"Retry-After": {"120"}}},
				fakemanufacturer.Answer{Body: `{"cost": 1}`, Header: http.Header{"Content-Type": {"text/plain"}}},
			)
		}, []reply{
			{429, "application/json", "120", ``},
			{200, "text/plain", "", `{"cost": 1}`},
			{200, "text/plain", "", `{"cost": 1}`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fakemanufacturer.New()
			defer m.Close()
			tt.set(m)
			var got []reply
			for range tt.want {
				got = append(got, post(t, m, "/hook", `{}`))
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(reply{})); diff != "" {
				t.Errorf("replies (-want +got):\n%s", diff)
			}
			if got, want := m.Requests(), int64(len(tt.want)); got != want {
				t.Errorf("Requests() = %d, want %d", got, want)
			}
		})
	}
}

func TestRequests(t *testing.T) {
	// The handler reads the body the Server has recorded.
	m := fakemanufacturer.New(fakemanufacturer.WithHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, "got "+string(body))
	})))
	defer m.Close()
	req, _ := http.NewRequest(http.MethodPut, m.URL+"/price", strings.NewReader(`{"job": 1}`))
	req.Header.Set("Idempotency-Key", "idem-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(answer), `got {"job": 1}`; got != want {
		t.Errorf("the handler answered %q, want %q", got, want)
	}
	reqs := m.Received()
	if len(reqs) != 1 {
		t.Fatalf("%d requests recorded, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "PUT" || r.Path != "/price" || string(r.Body) != `{"job": 1}` || r.ContentLength != 10 || r.Header.Get("Idempotency-Key") != "idem-1" {
		t.Errorf("recorded %s %s %q (Content-Length %d, Idempotency-Key %q), want PUT /price {\"job\": 1} (10, idem-1)",
			r.Method, r.Path, r.Body, r.ContentLength, r.Header.Get("Idempotency-Key"))
	}
}

func TestRecordLimit(t *testing.T) {
	m := fakemanufacturer.New(fakemanufacturer.WithRecordLimit(1))
	defer m.Close()
	for _, body := range []string{"first", "second", "third"} {
		post(t, m, "/", body)
	}
	reqs := m.Received()
	if len(reqs) != 1 || string(reqs[0].Body) != "first" {
		t.Errorf("recorded %d requests (%v), want the first only", len(reqs), reqs)
	}
	if got := m.Requests(); got != 3 {
		t.Errorf("Requests() = %d, want 3", got)
	}
}

// await fails the test unless ch is closed within 10 seconds.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not after 10 s", what)
	}
}

func TestHold(t *testing.T) {
	m := fakemanufacturer.New()
	defer m.Close()
	m.Answer(200, `{"cost": 10}`)
	release := m.Hold()
	const n = 3
	replies := sendAll(m, n)
	await(t, m.Held(n), "requests held")
	select {
	case r := <-replies:
		t.Fatalf("a held request was answered: %+v", r)
	default:
	}
	if got := len(m.Received()); got != n {
		t.Errorf("%d held requests recorded, want %d", got, n)
	}
	release()
	release() // again: nothing happens
	for range n {
		if r := <-replies; r.body != `{"cost": 10}` {
			t.Errorf("released answer %q, want {\"cost\": 10}", r.body)
		}
	}
	// Released, the Server answers at once again.
	if r := post(t, m, "/", ""); r.status != 200 {
		t.Errorf("after release: status %d, want 200", r.status)
	}
	await(t, m.Held(0), "Held(0)")
}

func TestCloseReleasesHeld(t *testing.T) {
	m := fakemanufacturer.New()
	m.Hold()
	replied := sendAll(m, 1)
	await(t, m.Held(1), "request held")
	m.Close() // would wait for the held request forever
	if r := <-replied; r.status != 200 {
		t.Errorf("the held request got %d, want 200", r.status)
	}
}
