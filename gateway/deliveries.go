package gateway

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
)

func (s *Server) listDeliveries(c echo.Context) error {
	f := callout.DeliveryFilter{
		ManufacturerID: c.Param("m"),
		Kind:           callout.Kind(c.QueryParam("kind")),
		JobID:          c.QueryParam("job"),
		Outcome:        callout.Outcome(c.QueryParam("outcome")),
		Cursor:         c.QueryParam("cursor"),
		Limit:          callout.DefaultDeliveryLimit,
	}
	var fe callout.FieldErrors
	if f.Kind != "" && !f.Kind.Valid() {
		fe.Add("kind", "must be submission or pricing")
	}
	if f.JobID != "" && !callout.ValidID(f.JobID) {
		fe.Add("job", "is not a valid job id")
	}
	if f.Outcome != "" && !f.Outcome.Valid() {
		fe.Add("outcome", "is not a known outcome")
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > callout.MaxDeliveryLimit {
			fe.Add("limit", "must be a whole number from 1 to %d", callout.MaxDeliveryLimit)
		}
		f.Limit = n
	}
	if err := fe.Err(); err != nil {
		return err
	}
	list, next, err := s.store.ListDeliveries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*callout.Delivery{}
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(http.StatusOK, map[string]any{"deliveries": list, "next_cursor": cursor})
}

func (s *Server) getDelivery(c echo.Context) error {
	d, err := s.store.GetDelivery(c.Request().Context(), c.Param("m"), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}
