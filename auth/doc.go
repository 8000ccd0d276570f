// Package auth authenticates the callers of Callout's API: it verifies and
// mints the HS256 JWTs they present. The tokens Callout itself presents to
// manufacturers' webhooks come from package auth0.
package auth
