package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/callout/callout"
)

// The webhook editor's inputs are named as the API's fields, so that the
// API's 422 fields land beside the input they concern.

// webhookPatch turns the editor's form into the body of a PATCH (or of the
// first PUT): secrets left empty are omitted, so the stored ones are kept,
// and only the chosen authentication type's settings are sent. A number
// that is not one is reported against its field without calling the API.
func webhookPatch(r *http.Request, kind callout.Kind) (map[string]any, map[string]string) {
	fields := map[string]string{}
	get := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	number := func(name string) int {
		n, err := strconv.Atoi(get(name))
		if err != nil {
			fields[name] = "must be a whole number"
		}
		return n
	}
	body := map[string]any{
		"enabled":               r.PostFormValue("enabled") == "true",
		"url":                   get("url"),
		"auth":                  authBody(r),
		"export_format":         get("export_format"),
		"timeout_ms":            number("timeout_ms"),
		"generic_error_message": get("generic_error_message"),
		"breaker": map[string]any{
			"consecutive_failures": number("breaker.consecutive_failures"),
			"open_seconds":         number("breaker.open_seconds"),
		},
	}
	if kind == callout.KindPricing {
		body["retries"] = number("retries")
		body["cache_seconds"] = number("cache_seconds")
	}
	setSigningSecret(r, body)
	return body, fields
}

// authBody is the auth member of a body: only the chosen type's settings,
// and secrets only when typed, so that the stored ones are kept.
func authBody(r *http.Request) map[string]any {
	get := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	authType := get("auth.type")
	body := map[string]any{"type": authType}
	switch callout.AuthType(authType) {
	case callout.AuthBearer:
		if v := r.PostFormValue("auth.bearer_token"); v != "" {
			body["bearer_token"] = v
		}
	case callout.AuthAuth0:
		a0 := map[string]any{
			"tenant_domain": get("auth.auth0.tenant_domain"),
			"client_id":     get("auth.auth0.client_id"),
			"audience":      get("auth.auth0.audience"),
		}
		if v := r.PostFormValue("auth.auth0.client_secret"); v != "" {
			a0["client_secret"] = v
		}
		body["auth0"] = a0
	}
	return body
}

// setSigningSecret sets the body's signing_secret when one was typed, or
// removed: left empty, the stored one is kept.
func setSigningSecret(r *http.Request, body map[string]any) {
	switch v := strings.TrimSpace(r.PostFormValue("signing_secret")); {
	case r.PostFormValue("signing_secret_remove") == "true":
		body["signing_secret"] = ""
	case v != "":
		body["signing_secret"] = v
	}
}

// formWebhook shows the form's entries on w, to show a refused form again.
// Secrets are not copied: no secret is ever written into a page.
func formWebhook(r *http.Request, w *webhookView) {
	get := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	atoi := func(name string, dst *int) {
		if n, err := strconv.Atoi(get(name)); err == nil {
			*dst = n
		}
	}
	w.Enabled = r.PostFormValue("enabled") == "true"
	w.URL = get("url")
	formAuth(r, &w.Auth)
	w.ExportFormat = get("export_format")
	w.GenericErrorMessage = get("generic_error_message")
	atoi("timeout_ms", &w.TimeoutMS)
	atoi("retries", &w.Retries)
	atoi("cache_seconds", &w.CacheSeconds)
	atoi("breaker.consecutive_failures", &w.Breaker.ConsecutiveFailures)
	atoi("breaker.open_seconds", &w.Breaker.OpenSeconds)
}

// formAuth shows the form's authentication entries on a, secrets not
// copied.
func formAuth(r *http.Request, a *authView) {
	get := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	if t := get("auth.type"); t != a.Type {
		a.Type = t
		a.BearerTokenSet = nil
		a.Auth0 = nil
	}
	if a.Type == string(callout.AuthAuth0) {
		if a.Auth0 == nil {
			a.Auth0 = &auth0View{}
		}
		a.Auth0.TenantDomain = get("auth.auth0.tenant_domain")
		a.Auth0.ClientID = get("auth.auth0.client_id")
		a.Auth0.Audience = get("auth.auth0.audience")
	}
}
