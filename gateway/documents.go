package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
)

// writeCustomer answers status with a stored customer: Callout's fields, and
// the document exactly as the platform stored it (encoding/json would compact
// it).
func writeCustomer(c echo.Context, status int, cust *callout.Customer) error {
	head, err := callout.MarshalJSON(struct {
		ID             string    `json:"id"`
		ManufacturerID string    `json:"manufacturer_id"`
		UpdatedAt      time.Time `json:"updated_at"`
	}{cust.ID, cust.ManufacturerID, cust.UpdatedAt})
	if err != nil {
		return err
	}
	body := make([]byte, 0, len(head)+len(cust.Document)+16)
	body = append(body, head[:len(head)-1]...)
	body = append(body, `,"customer":`...)
	body = append(body, cust.Document...)
	body = append(body, '}')
	return c.JSONBlob(status, body)
}

func (s *Server) putCustomer(c echo.Context) error {
	id := c.Param("c")
	if err := callout.CheckID("customer", id); err != nil {
		return err
	}
	data, err := s.readBody(c)
	if err != nil {
		return err
	}
	// A body that is not JSON at all is a bad request, as on every route;
	// JSON that is not an object is a bad customer document.
	if !isObject(data) && !json.Valid(data) {
		return jsonError(json.Unmarshal(data, new(any)))
	}
	doc, err := customerDocument(data, id)
	if err != nil {
		return err
	}
	cust := &callout.Customer{ID: id, ManufacturerID: c.Param("m"), Document: doc}
	created, err := s.store.PutCustomer(c.Request().Context(), cust)
	if err != nil {
		return err
	}
	return writeCustomer(c, createdOrOK(created), cust)
}

func (s *Server) getCustomer(c echo.Context) error {
	id := c.Param("c")
	if err := callout.CheckID("customer", id); err != nil {
		return err
	}
	cust, err := s.store.GetCustomer(c.Request().Context(), c.Param("m"), id)
	if err != nil {
		return err
	}
	return writeCustomer(c, http.StatusOK, cust)
}

// jobInput is the body of PUT job. The documents are kept as raw bytes: they
// go out to the manufacturer exactly as they came in.
type jobInput struct {
	Job      json.RawMessage `json:"job"`
	Export   json.RawMessage `json:"export"`
	Customer json.RawMessage `json:"customer"`
}

// decodeJob reads the body of PUT job. A job's documents run to 16 MiB, so
// it is parsed in place with json.Unmarshal, which copies each document once,
// rather than with a json.Decoder, which first copies the whole body into a
// buffer of its own, growing it by doubling.
func (s *Server) decodeJob(c echo.Context) (jobInput, error) {
	data, err := s.readBody(c)
	if err != nil {
		return jobInput{}, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return jobInput{}, jsonError(err)
	}
	in := jobInput{Job: members["job"], Export: members["export"], Customer: members["customer"]}
	for name := range members {
		if name != "job" && name != "export" && name != "customer" {
			return jobInput{}, callout.Invalid(callout.FieldError{Field: name, Message: "is not a known field"})
		}
	}
	return in, nil
}

func (s *Server) putJob(c echo.Context) error {
	m, id := c.Param("m"), c.Param("j")
	if err := callout.CheckID("job", id); err != nil {
		return err
	}
	in, err := s.decodeJob(c)
	if err != nil {
		return err
	}
	job, inline, err := jobDocuments(m, id, in)
	if err != nil {
		return err
	}
	if err := s.store.PutJob(c.Request().Context(), job, inline); err != nil {
		return err
	}
	// A new job is at revision 1; a replacement increments it.
	return c.JSON(createdOrOK(job.Revision == 1), job)
}

// jobDocuments checks the documents of PUT job: job and export are objects,
// job.id (if present) is the path's id, job.customerId names the customer, and
// an inline customer's id (if present) agrees with it.
func jobDocuments(m, id string, in jobInput) (*callout.Job, *callout.Customer, error) {
	var fe callout.FieldErrors
	if !isObject(in.Job) {
		fe.Add("job", "is required: the job document, a JSON object")
	}
	if !isObject(in.Export) {
		fe.Add("export", "is required: the JSON export of the job, a JSON object")
	}
	if in.Customer != nil && !isObject(in.Customer) && !bytes.Equal(bytes.TrimSpace(in.Customer), []byte("null")) {
		fe.Add("customer", "must be the customer document, a JSON object")
	}
	if err := fe.Err(); err != nil {
		return nil, nil, err
	}
	var members struct {
		ID         json.RawMessage `json:"id"`
		CustomerID json.RawMessage `json:"customerId"`
	}
	if err := json.Unmarshal(in.Job, &members); err != nil {
		return nil, nil, jsonError(err)
	}
	if members.ID != nil {
		if text, ok := idText(members.ID); !ok || text != id {
			fe.Add("job.id", "must be %q, the job id of the path", id)
		}
	}
	customerID, ok := idText(members.CustomerID)
	if !ok || !callout.ValidID(customerID) {
		fe.Add("job.customerId", "is required: the id of the job's customer, a string or an integer")
	}
	var inline *callout.Customer
	if isObject(in.Customer) && ok {
		doc, err := customerDocument(in.Customer, customerID)
		if err != nil {
			return nil, nil, err
		}
		inline = &callout.Customer{ID: customerID, ManufacturerID: m, Document: doc}
	}
	if err := fe.Err(); err != nil {
		return nil, nil, err
	}
	return &callout.Job{ID: id, ManufacturerID: m, CustomerID: customerID, Document: in.Job, Export: in.Export}, inline, nil
}

// customerDocument checks that data is one JSON object whose "id", when
// present, is id, and returns it as stored. It parses data once.
func customerDocument(data []byte, id string) (json.RawMessage, error) {
	if !isObject(data) {
		return nil, callout.Invalid(callout.FieldError{Field: "customer", Message: "must be a JSON object"})
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, jsonError(err)
	}
	if raw, ok := members["id"]; ok {
		if text, ok := idText(raw); !ok || text != id {
			return nil, callout.Invalid(callout.FieldError{Field: "customer.id", Message: fmt.Sprintf("must be %q, the customer id", id)})
		}
	}
	return bytes.TrimSpace(data), nil
}

func (s *Server) getJob(c echo.Context) error {
	id := c.Param("j")
	if err := callout.CheckID("job", id); err != nil {
		return err
	}
	job, err := s.store.GetJob(c.Request().Context(), c.Param("m"), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, job)
}

// createdOrOK is the status of a PUT: 201 when it created the resource, 200
// when it replaced one.
func createdOrOK(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}
