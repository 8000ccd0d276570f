package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
	"github.com/callout/callout/console"
)

// ConsoleLinks issues the console's one-time sign-in links; *console.Links
// is one.
type ConsoleLinks interface {
	Issue(ctx context.Context, manufacturerID string) (*console.Link, error)
}

// createConsoleLink answers with a sign-in link for the manufacturer's
// console, on the host and scheme the platform called: the platform hands it
// to the manufacturer's administrator.
func (s *Server) createConsoleLink(c echo.Context) error {
	if s.links == nil {
		return callout.Errorf(callout.ECodeNotFound, "the console is not enabled")
	}
	link, err := s.links.Issue(c.Request().Context(), c.Param("m"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}{c.Scheme() + "://" + c.Request().Host + link.Path, link.ExpiresAt})
}
