package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
	"github.com/callout/callout/dispatch"
	"github.com/callout/callout/payload"
	"github.com/callout/callout/pricing"
	"github.com/callout/callout/requestid"
	"github.com/callout/callout/submission"
)

func (s *Server) submitJob(c echo.Context) error {
	id := c.Param("j")
	if err := callout.CheckID("job", id); err != nil {
		return err
	}
	ctx := c.Request().Context()
	reply, err := s.submit.Submit(ctx, submission.Request{
		ManufacturerID: c.Param("m"),
		JobID:          id,
		IdempotencyKey: c.Request().Header.Get("Idempotency-Key"),
		RequestID:      requestid.From(ctx),
	})
	if err != nil {
		return err
	}
	h := c.Response().Header()
	if reply.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(reply.RetryAfter.Seconds())))
	}
	if reply.Replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	contentType := echo.MIMEApplicationJSON
	if reply.Status >= 400 {
		contentType = "application/problem+json"
	}
	return c.Blob(reply.Status, contentType, reply.Body)
}

func (s *Server) priceJob(c echo.Context) error {
	id := c.Param("j")
	if err := callout.CheckID("job", id); err != nil {
		return err
	}
	ctx := c.Request().Context()
	quote, err := s.price.Price(ctx, pricing.Request{ManufacturerID: c.Param("m"), JobID: id, RequestID: requestid.From(ctx)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, quote)
}

// testResult is the answer of the webhook test route: the interpreted outcome
// of one real callout, its HTTP status and timing.
type testResult struct {
	DeliveryID string                  `json:"delivery_id,omitempty"` // none when the breaker refused the callout
	Outcome    callout.Outcome         `json:"outcome"`
	HTTPStatus int                     `json:"http_status"`
	DurationMS float64                 `json:"duration_ms"`
	Attempts   int                     `json:"attempts"`
	Errors     []string                `json:"errors"`
	Messages   []string                `json:"messages"`
	ExternalID *string                 `json:"external_id,omitempty"`
	Cost       json.Number             `json:"cost,omitempty"`
	Breakdown  []callout.BreakdownNode `json:"breakdown,omitempty"`
	Warnings   []string                `json:"warnings"`
	Detail     string                  `json:"detail,omitempty"`
}

// testWebhook makes one real callout with the sample job, or a stored job,
// and saves nothing on any job; the delivery is recorded, marked test.
func (s *Server) testWebhook(c echo.Context) error {
	ctx, m := c.Request().Context(), c.Param("m")
	kind, err := kindParam(c)
	if err != nil {
		return err
	}
	var in struct {
		JobID string `json:"job_id"`
	}
	if err := s.decodeStrict(c, &in, true); err != nil {
		return err
	}
	w, err := s.store.GetWebhook(ctx, m, kind)
	if err != nil {
		return err
	}
	job, customer, err := s.testJob(c, in.JobID)
	if err != nil {
		return err
	}
	result, delivery, err := s.tester.Do(ctx, dispatch.Call{
		Webhook:        w,
		Job:            job,
		Customer:       customer,
		RequestID:      requestid.From(ctx),
		IdempotencyKey: "callout-test-" + requestid.New(),
		Test:           true,
	})
	if err != nil {
		return err
	}
	if delivery.Kept() {
		if err := s.store.InsertDelivery(ctx, delivery); err != nil {
			return err
		}
	}
	a := result.Answer
	out := testResult{
		Outcome:    result.Outcome,
		HTTPStatus: result.HTTPStatus,
		DurationMS: delivery.DurationMS,
		Attempts:   result.Attempts,
		Errors:     callout.CustomerErrors(result.Outcome, a.Errors, w.GenericErrorMessage),
		Messages:   a.Messages,
		Cost:       a.Cost,
		Breakdown:  a.Breakdown,
		Warnings:   result.Warnings,
		Detail:     result.Detail,
	}
	if delivery.Kept() {
		out.DeliveryID = delivery.ID
	}
	if a.ExternalID != "" {
		out.ExternalID = &a.ExternalID
	}
	if out.Errors == nil {
		out.Errors = []string{}
	}
	if out.Messages == nil {
		out.Messages = []string{}
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	return c.JSON(http.StatusOK, out)
}

// testJob returns the stored job and customer named by jobID, or the sample.
func (s *Server) testJob(c echo.Context, jobID string) (*callout.Job, json.RawMessage, error) {
	ctx, m := c.Request().Context(), c.Param("m")
	if jobID == "" {
		export, doc, customer := payload.Sample()
		return &callout.Job{ManufacturerID: m, Document: doc, Export: export}, customer, nil
	}
	if err := callout.CheckID("job_id", jobID); err != nil {
		return nil, nil, err
	}
	job, err := s.store.GetJob(ctx, m, jobID)
	if err != nil {
		return nil, nil, err
	}
	customer, err := s.store.GetCustomer(ctx, m, job.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	return job, customer.Document, nil
}
