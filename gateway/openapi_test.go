package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// contract is the OpenAPI document an API serves, with a router to find the
// operation of each request.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// loadContract fetches and validates the document a's API serves, as
// described for a server at a's URL.
func loadContract(t *testing.T, a *api) *contract {
	t.Helper()
	resp, err := http.Get(a.url + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/openapi.json: %d %s, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: a.url}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("routing the OpenAPI document: %v", err)
	}
	return &contract{doc: doc, router: router}
}

// check validates one exchange against the document: a request the document
// allows gets an answer it describes; a request it refuses (a route it does
// not have, a body of the wrong shape) must be refused by the API with 4xx,
// in a described problem document when the route exists.
func (c *contract) check(t *testing.T, req *http.Request, reqBody []byte, r *response) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s is not in the OpenAPI document, yet answered %d, want 404", req.Method, req.URL.Path, r.status)
		}
		return
	case errors.Is(err, routers.ErrMethodNotAllowed):
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s is not in the OpenAPI document, yet answered %d, want 405", req.Method, req.URL.Path, r.status)
		}
		return
	case err != nil:
		t.Errorf("finding %s %s in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	req = req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && (r.status < 400 || r.status >= 500) {
		t.Errorf("%s %s: the OpenAPI document refuses the request (%v), yet the API answered %d", req.Method, req.URL.Path, err, r.status)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: the response does not match the OpenAPI document: %v\n%.2000s", req.Method, req.URL.Path, err, r.body)
	}
}

// TestOpenAPIDocument checks the served document: it needs no token, is a
// valid OpenAPI document (loadContract), and asks every /v1 route but itself
// for the bearer token, and the operational ones for none.
func TestOpenAPIDocument(t *testing.T) {
	a := newAPI(t)
	doc := a.contract.doc
	scheme := doc.Components.SecuritySchemes["bearer"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" {
		t.Fatalf("security scheme bearer = %+v, want http bearer", scheme)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			open := op.Security != nil && len(*op.Security) == 0
			if want := !strings.HasPrefix(path, "/v1/") || path == "/v1/openapi.json"; open != want {
				t.Errorf("%s %s: needs no token = %v, want %v", method, path, open, want)
			}
		}
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("the document's default security is %v, want bearer", doc.Security)
	}
}
