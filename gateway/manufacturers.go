package gateway

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
)

const maxNameLength = 200

func (s *Server) putManufacturer(c echo.Context) error {
	var req struct {
		Name *string `json:"name"`
	}
	if err := s.decodeStrict(c, &req, false); err != nil {
		return err
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" || utf8.RuneCountInString(*req.Name) > maxNameLength {
		return callout.Invalid(callout.FieldError{Field: "name", Message: "is required: 1 to 200 characters"})
	}
	m, created, err := s.store.PutManufacturer(c.Request().Context(), c.Param("m"), *req.Name)
	if err != nil {
		return err
	}
	return c.JSON(createdOrOK(created), m)
}

func (s *Server) getManufacturer(c echo.Context) error {
	m, err := s.store.GetManufacturer(c.Request().Context(), c.Param("m"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}
