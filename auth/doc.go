// Package auth authenticates in both directions: it verifies and mints the
// HS256 JWTs that callers of Callout's API present (jwt.go), and it obtains
// and caches the Auth0 client-credentials tokens that Callout presents to
// manufacturers' webhooks (auth0.go).
package auth
