package gateway

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callout/callout"
)

// webhookInput is a webhook config as an administrator sends it. Pointers tell
// an omitted member from a zero one, for PATCH. The *_set members and the other
// read-only members of a GET are accepted and ignored, so that a config read
// can be sent back.
type webhookInput struct {
	Enabled             *bool         `json:"enabled"`
	URL                 *string       `json:"url"`
	Auth                *authInput    `json:"auth"`
	ExportFormat        *string       `json:"export_format"`
	TimeoutMS           *int          `json:"timeout_ms"`
	Retries             *int          `json:"retries"`
	GenericErrorMessage *string       `json:"generic_error_message"`
	Breaker             *breakerInput `json:"breaker"`
	SigningSecret       *string       `json:"signing_secret"`
	CacheSeconds        *int          `json:"cache_seconds"`

	SigningSecretSet json.RawMessage `json:"signing_secret_set"`
	ManufacturerID   json.RawMessage `json:"manufacturer_id"`
	Kind             json.RawMessage `json:"kind"`
	UpdatedAt        json.RawMessage `json:"updated_at"`
}

type authInput struct {
	Type           *string         `json:"type"`
	BearerToken    *string         `json:"bearer_token"`
	Auth0          *auth0Input     `json:"auth0"`
	BearerTokenSet json.RawMessage `json:"bearer_token_set"`
}

type auth0Input struct {
	TenantDomain    *string         `json:"tenant_domain"`
	ClientID        *string         `json:"client_id"`
	ClientSecret    *string         `json:"client_secret"`
	Audience        *string         `json:"audience"`
	ClientSecretSet json.RawMessage `json:"client_secret_set"`
}

type breakerInput struct {
	ConsecutiveFailures *int `json:"consecutive_failures"`
	OpenSeconds         *int `json:"open_seconds"`
}

// apply sets every member given on w. Secrets omitted are kept; an empty
// signing_secret removes it. Changing the auth type drops the other type's
// credentials, so no unused secret lingers.
func (in *webhookInput) apply(w *callout.Webhook) {
	set(&w.Enabled, in.Enabled)
	set(&w.URL, in.URL)
	if in.ExportFormat != nil {
		w.ExportFormat = callout.ExportFormat(*in.ExportFormat)
	}
	set(&w.TimeoutMS, in.TimeoutMS)
	set(&w.Retries, in.Retries)
	set(&w.GenericErrorMessage, in.GenericErrorMessage)
	set(&w.SigningSecret, in.SigningSecret)
	set(&w.CacheSeconds, in.CacheSeconds)
	if b := in.Breaker; b != nil {
		set(&w.Breaker.ConsecutiveFailures, b.ConsecutiveFailures)
		set(&w.Breaker.OpenSeconds, b.OpenSeconds)
	}
	in.Auth.apply(&w.Auth)
}

// apply sets every member given on dst, for a webhook or an endpoint
// (nil: none). Changing the auth type drops the other type's credentials,
// so no unused secret lingers.
func (a *authInput) apply(dst *callout.Auth) {
	if a == nil {
		return
	}
	if a.Type != nil && callout.AuthType(*a.Type) != dst.Type {
		*dst = callout.Auth{Type: callout.AuthType(*a.Type)}
	}
	set(&dst.BearerToken, a.BearerToken)
	if a0 := a.Auth0; a0 != nil {
		set(&dst.Auth0.TenantDomain, a0.TenantDomain)
		set(&dst.Auth0.ClientID, a0.ClientID)
		set(&dst.Auth0.ClientSecret, a0.ClientSecret)
		set(&dst.Auth0.Audience, a0.Audience)
	}
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// webhookOutput is a webhook config with its secrets redacted.
type webhookOutput struct {
	ManufacturerID      string        `json:"manufacturer_id"`
	Kind                callout.Kind  `json:"kind"`
	Enabled             bool          `json:"enabled"`
	URL                 string        `json:"url"`
	Auth                authOutput    `json:"auth"`
	ExportFormat        string        `json:"export_format"`
	TimeoutMS           int           `json:"timeout_ms"`
	Retries             int           `json:"retries"`
	GenericErrorMessage string        `json:"generic_error_message"`
	Breaker             breakerOutput `json:"breaker"`
	SigningSecretSet    bool          `json:"signing_secret_set"`
	CacheSeconds        int           `json:"cache_seconds"`
	UpdatedAt           time.Time     `json:"updated_at"`
}

type authOutput struct {
	Type           callout.AuthType `json:"type"`
	BearerTokenSet *bool            `json:"bearer_token_set,omitempty"`
	Auth0          *auth0Output     `json:"auth0,omitempty"`
}

type auth0Output struct {
	TenantDomain    string `json:"tenant_domain"`
	ClientID        string `json:"client_id"`
	ClientSecretSet bool   `json:"client_secret_set"`
	Audience        string `json:"audience"`
}

type breakerOutput struct {
	ConsecutiveFailures int `json:"consecutive_failures"`
	OpenSeconds         int `json:"open_seconds"`
}

func redact(w *callout.Webhook) *webhookOutput {
	return &webhookOutput{
		ManufacturerID:      w.ManufacturerID,
		Kind:                w.Kind,
		Enabled:             w.Enabled,
		URL:                 w.URL,
		Auth:                redactAuth(w.Auth),
		ExportFormat:        string(w.ExportFormat),
		TimeoutMS:           w.TimeoutMS,
		Retries:             w.Retries,
		GenericErrorMessage: w.GenericErrorMessage,
		Breaker:             breakerOutput{w.Breaker.ConsecutiveFailures, w.Breaker.OpenSeconds},
		SigningSecretSet:    w.SigningSecret != "",
		CacheSeconds:        w.CacheSeconds,
		UpdatedAt:           w.UpdatedAt,
	}
}

// redactAuth is the authentication of a webhook or an endpoint with its
// secrets shown only as set.
func redactAuth(a callout.Auth) authOutput {
	out := authOutput{Type: a.Type}
	switch a.Type {
	case callout.AuthBearer:
		isSet := a.BearerToken != ""
		out.BearerTokenSet = &isSet
	case callout.AuthAuth0:
		a0 := a.Auth0
		out.Auth0 = &auth0Output{a0.TenantDomain, a0.ClientID, a0.ClientSecret != "", a0.Audience}
	}
	return out
}

func kindParam(c echo.Context) (callout.Kind, error) {
	kind := callout.Kind(c.Param("kind"))
	if !kind.Valid() {
		return "", callout.Errorf(callout.ECodeNotFound, "no webhook kind %.40q: use submission or pricing", kind)
	}
	return kind, nil
}

func (s *Server) putWebhook(c echo.Context) error   { return s.saveWebhook(c, false) }
func (s *Server) patchWebhook(c echo.Context) error { return s.saveWebhook(c, true) }

// saveWebhook replaces (PUT) or changes (PATCH) a webhook config.
func (s *Server) saveWebhook(c echo.Context, patch bool) error {
	ctx, m := c.Request().Context(), c.Param("m")
	kind, err := kindParam(c)
	if err != nil {
		return err
	}
	var in webhookInput
	if err := s.decodeStrict(c, &in, false); err != nil {
		return err
	}
	w := callout.NewWebhook(m, kind)
	if patch {
		if w, err = s.store.GetWebhook(ctx, m, kind); err != nil {
			return err
		}
	} else {
		w.Enabled = true // a config put without "enabled" is meant to be used
	}
	in.apply(w)
	if err := w.Validate(s.policy); err != nil {
		return err
	}
	if err := s.store.PutWebhook(ctx, w); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, redact(w))
}

func (s *Server) getWebhook(c echo.Context) error {
	kind, err := kindParam(c)
	if err != nil {
		return err
	}
	w, err := s.store.GetWebhook(c.Request().Context(), c.Param("m"), kind)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, redact(w))
}

func (s *Server) deleteWebhook(c echo.Context) error {
	kind, err := kindParam(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhook(c.Request().Context(), c.Param("m"), kind); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
