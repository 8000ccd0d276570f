// Package auth authenticates the callers of Callout's API: it verifies and
// mints the HS256 JWTs they present, and judges whether a JWT secret is
// strong enough to sign them. The tokens Callout itself presents to
// manufacturers' webhooks come from package auth0.
package auth
