package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
	"github.com/callout/callout/auth"
)

const claimsKey = "claims"

// observe logs each request and records its metrics.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		d := time.Since(start)
		req, status := c.Request(), c.Response().Status
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		if s.metrics != nil {
			s.metrics.HTTPRequest(req.Method, route, status, d)
		}
		s.log.InfoContext(req.Context(), "request", "method", req.Method, "route", route, "status", status, "duration_ms", float64(d.Microseconds())/1000)
		return nil
	}
}

// recover turns a panic into a 500 problem and a log line.
func (s *Server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = &callout.Error{Code: callout.ECodeInternal, Err: fmt.Errorf("panic: %v", r)}
			}
		}()
		return next(c)
	}
}

// authenticate requires a valid bearer JWT on every /v1 route.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(c.Request().Header.Values("Authorization")) > 1 {
			// Proxies and servers disagree on which of two wins: refuse both.
			return callout.Errorf(callout.ECodeBadRequest, "the request has more than one Authorization header; send one")
		}
		header := c.Request().Header.Get("Authorization")
		scheme, token, ok := strings.Cut(header, " ")
		if header == "" {
			return callout.Errorf(callout.ECodeUnauthorized, "an Authorization: Bearer token is required")
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return callout.Errorf(callout.ECodeUnauthorized, "the Authorization header must be Bearer <token>")
		}
		claims, err := s.verify.Verify(strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.Set(claimsKey, claims)
		return next(c)
	}
}

// tenant checks the manufacturer id of the path, and hides other tenants:
// a token of manufacturer A gets 404 for anything of manufacturer B.
func (s *Server) tenant(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		m := c.Param("m")
		if err := callout.CheckID("manufacturer", m); err != nil {
			return err
		}
		if !claimsOf(c).CanAccess(m) {
			return callout.NotFound("manufacturer " + m)
		}
		return next(c)
	}
}

// allow lets only the given roles through; others get 403.
func allow(roles ...auth.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			role := claimsOf(c).Role
			for _, r := range roles {
				if role == r {
					return next(c)
				}
			}
			return callout.Errorf(callout.ECodeForbidden, "role %s may not %s %s", role, c.Request().Method, c.Path())
		}
	}
}

func claimsOf(c echo.Context) *auth.Claims {
	claims, _ := c.Get(claimsKey).(*auth.Claims)
	if claims == nil {
		return &auth.Claims{}
	}
	return claims
}
