package gateway

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
	"github.com/callout/callout/pricing"
	"github.com/callout/callout/probe"
	"github.com/callout/callout/requestid"
	"github.com/callout/callout/submission"
)

// jobSlot checks the path's job id and takes one of the manufacturer's
// callout slots, for the caller to release.
func (s *Server) jobSlot(c echo.Context) (jobID string, release func(), err error) {
	jobID = c.Param("j")
	if err := callout.CheckID("job", jobID); err != nil {
		return "", nil, err
	}
	release, err = s.slots.acquire(c.Request().Context(), c.Param("m"))
	return jobID, release, err
}

func (s *Server) submitJob(c echo.Context) error {
	id, release, err := s.jobSlot(c)
	if err != nil {
		return err
	}
	defer release()
	ctx := c.Request().Context()
	reply, err := s.submit.Submit(ctx, submission.Request{
		ManufacturerID: c.Param("m"),
		JobID:          id,
		IdempotencyKey: c.Request().Header.Get("Idempotency-Key"),
		RequestID:      requestid.From(ctx),
		Arrived:        arrival(ctx),
	})
	if err != nil {
		return err
	}
	setRetryAfter(c, retryAfterSeconds(reply.RetryAfter))
	if reply.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	contentType := echo.MIMEApplicationJSON
	if reply.Status >= 400 {
		contentType = "application/problem+json"
	}
	return c.Blob(reply.Status, contentType, reply.Body)
}

func (s *Server) priceJob(c echo.Context) error {
	id, release, err := s.jobSlot(c)
	if err != nil {
		return err
	}
	defer release()
	ctx := c.Request().Context()
	quote, err := s.price.Price(ctx, pricing.Request{ManufacturerID: c.Param("m"), JobID: id, RequestID: requestid.From(ctx), Arrived: arrival(ctx)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, quote)
}

// testWebhook makes one real callout with the sample job, or a stored job,
// and saves nothing on any job; the delivery is recorded, marked test.
func (s *Server) testWebhook(c echo.Context) error {
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
	// The slot is taken once the body is read: a client that sends its body
	// slowly holds its connection, not a slot.
	release, err := s.slots.acquire(c.Request().Context(), c.Param("m"))
	if err != nil {
		return err
	}
	defer release()
	ctx := c.Request().Context()
	report, err := s.tester.Test(ctx, probe.Request{ManufacturerID: c.Param("m"), Kind: kind, JobID: in.JobID, RequestID: requestid.From(ctx)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, report)
}

// setRetryAfter sets the Retry-After header to seconds, when there are any.
func setRetryAfter(c echo.Context, seconds int) {
	if seconds > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(seconds))
	}
}
