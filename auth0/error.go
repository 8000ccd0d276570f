package auth0

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/callout/callout"
)

// TokenError is a failed token request. Status, Code and Description are
// set when the endpoint answered (Code and Description are its error and
// error_description, shortened and with the client secret callout.Redacted); Err is
// set when no answer came, such as a refused connection, a blocked
// destination or a timeout. It never holds the client secret.
type TokenError struct {
	Status      int
	Code        string
	Description string
	Err         error
}

// Error returns a one-line summary such as
// "auth0 token request failed: HTTP 403: access_denied: Unauthorized".
func (e *TokenError) Error() string {
	var b strings.Builder
	b.WriteString("auth0 token request failed")
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the transport error, so that errors.As finds, say, the
// SSRF-safe client's blocked-destination error.
func (e *TokenError) Unwrap() error { return e.Err }

// newTokenError converts an error of clientcredentials.Config.Token.
func newTokenError(err error, secret string) *TokenError {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		// Transport errors name the token URL, which holds no credentials
		// (the secret travels in the form body).
		return &TokenError{Err: err}
	}
	// The RetrieveError itself is not kept: its text includes the response
	// body, where a hostile endpoint could echo the secret.
	te := &TokenError{
		Code:        clean(re.ErrorCode, secret, maxCodeRunes),
		Description: clean(re.ErrorDescription, secret, maxDescriptionRunes),
	}
	if re.Response != nil {
		te.Status = re.Response.StatusCode
	}
	return te
}

// clean makes text from the endpoint safe to store and log: valid UTF-8,
// without the secret in clear or form-encoded, at most max runes (the last an
// ellipsis when shortened).
func clean(s, secret string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if secret != "" {
		s = strings.ReplaceAll(s, secret, callout.Redacted)
		if q := url.QueryEscape(secret); q != secret {
			s = strings.ReplaceAll(s, q, callout.Redacted)
		}
	}
	return callout.Truncate(s, max)
}
