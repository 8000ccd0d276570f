// Package auth0 fetches and caches the Auth0 client-credentials tokens that
// Callout presents to manufacturers' webhooks (docs/manufacturers.md, "Authentication"): one token per
// credential set, shared by every concurrent callout.
package auth0

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/callout/callout"
)

// Defaults and bounds of the Auth0 token cache.
const (
	// DefaultFetchTimeout bounds one token request when Options leaves
	// FetchTimeout zero.
	DefaultFetchTimeout = 30 * time.Second
	// DefaultTokenLifetime is how long a token is used when the endpoint
	// gives no expires_in. It is short on purpose: such a token may expire at
	// any moment, and a 401 from the webhook only costs one refetch.
	DefaultTokenLifetime = 5 * time.Minute
	// MaxTokenLifetime caps expires_in, so that a buggy or hostile endpoint
	// cannot pin one token for ever; a token is fetched at least daily.
	MaxTokenLifetime = 24 * time.Hour
	// DefaultMaxTokens bounds the cached tokens when Options leaves MaxTokens
	// zero: far more credential sets than a deployment has webhooks, yet
	// little memory, so that a tenant churning credentials cannot grow the
	// cache without bound.
	DefaultMaxTokens = 10000
	// maxEarlyRefresh is the default refresh margin for long-lived tokens.
	maxEarlyRefresh = 60 * time.Second
	// maxDescriptionRunes and maxCodeRunes bound what an endpoint can make
	// us store in a delivery record or a log line.
	maxDescriptionRunes = 500
	maxCodeRunes        = 100
)

// Options configure a Tokens.
type Options struct {
	// HTTPClient makes the token requests; pass the SSRF-safe client. Nil
	// means http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock that judges expiry and early refresh. Nil means
	// time.Now.
	Now func() time.Time
	// EarlyRefresh is how long before expiry a token is replaced. Zero means
	// the smaller of 60 s and a tenth of the token's lifetime. It is capped
	// at half the lifetime, so that a short-lived token is still reused.
	EarlyRefresh time.Duration
	// FetchTimeout bounds one token request. Zero means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// OnFetch, when set, is called after every token request with its error
	// (nil on success), for metrics. It must not block.
	OnFetch func(err error)
	// MaxTokens bounds the cached tokens. Zero means DefaultMaxTokens.
	MaxTokens int
}

// Tokens obtains Auth0 client-credentials tokens and shares them: one
// token per credential set, used until shortly before it expires, and one
// token request for any burst of callers. It is safe for concurrent use.
type Tokens struct {
	client       *http.Client
	now          func() time.Time
	early        time.Duration
	fetchTimeout time.Duration
	onFetch      func(error)
	maxTokens    int

	// base is the detached parent of every token request: a request must
	// outlive the caller that happened to start it, and end on Close.
	base  context.Context
	close context.CancelFunc

	group singleflight.Group
	// mu guards tokens; holding it across a look-up and a change makes
	// Invalidate's compare-and-delete atomic with the store of a newer token.
	// A plain map, rather than a cache library with a janitor goroutine:
	// entries are evicted when found expired, judged by the injected clock,
	// so there is no background goroutine and nothing to stop.
	mu     sync.Mutex
	tokens map[string]*cachedToken // by credentialKey
}

// cachedToken is one access token and the times, by the injected clock, at
// which it should be replaced and at which it stops being valid.
type cachedToken struct {
	access    string
	refreshAt time.Time
	expiresAt time.Time
}

// New returns an empty token cache. Call Close when done.
func New(o Options) *Tokens {
	t := &Tokens{
		client:       o.HTTPClient,
		now:          o.Now,
		early:        o.EarlyRefresh,
		fetchTimeout: o.FetchTimeout,
		onFetch:      o.OnFetch,
		maxTokens:    o.MaxTokens,
		tokens:       map[string]*cachedToken{},
	}
	if t.client == nil {
		t.client = http.DefaultClient
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.fetchTimeout <= 0 {
		t.fetchTimeout = DefaultFetchTimeout
	}
	if t.maxTokens <= 0 {
		t.maxTokens = DefaultMaxTokens
	}
	t.base, t.close = context.WithCancel(context.Background())
	return t
}

// Token returns an access token for the credential set a, from the cache
// when one is fresh, otherwise from one token request shared by every
// concurrent caller. The caller waits only until ctx is done; the request
// itself carries on for the others, bounded by FetchTimeout. A failed
// request is a *TokenError; it is not cached, so the next call tries again.
func (t *Tokens) Token(ctx context.Context, a callout.Auth0) (string, error) {
	if t.base.Err() != nil {
		return "", errors.New("auth0 token: the token cache is closed")
	}
	key := credentialKey(a)
	if tok, ok := t.cached(key, (*cachedToken).fresh); ok {
		return tok, nil
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("auth0 token: %w", err)
	}
	ch := t.group.DoChan(key, func() (any, error) { return t.fetch(key, a) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("auth0 token: waiting for the token request: %w", ctx.Err())
	}
}

// Invalidate drops the cached token of a if it is still token, as after the
// webhook refused it with 401 or 403. A newer token, fetched meanwhile by
// another caller, is kept.
func (t *Tokens) Invalidate(a callout.Auth0, token string) {
	key := credentialKey(a)
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.tokens[key]; ok && c.access == token {
		delete(t.tokens, key)
	}
}

// Close cancels token requests in flight and forgets every token. Token
// fails afterwards.
func (t *Tokens) Close() {
	t.close()
	t.mu.Lock()
	clear(t.tokens)
	t.mu.Unlock()
}

func (c *cachedToken) fresh(now time.Time) bool { return now.Before(c.refreshAt) }
func (c *cachedToken) valid(now time.Time) bool { return now.Before(c.expiresAt) }

// cached returns the cached token of key if usable reports it usable now,
// and evicts it once it has expired.
func (t *Tokens) cached(key string, usable func(*cachedToken, time.Time) bool) (string, bool) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.tokens[key]
	switch {
	case !ok:
		return "", false
	case !c.valid(now):
		delete(t.tokens, key)
		return "", false
	case !usable(c, now):
		return "", false
	}
	return c.access, true
}

// store caches c as the token of key. When the cache is full, it first
// evicts the expired tokens and then, if none had expired, the token that
// expires first: its credential set pays one token request if used again.
// Called with mu held.
func (t *Tokens) store(key string, c *cachedToken, now time.Time) {
	if _, ok := t.tokens[key]; !ok && len(t.tokens) >= t.maxTokens {
		var first string
		for k, old := range t.tokens {
			if !old.valid(now) {
				delete(t.tokens, k)
			} else if first == "" || old.expiresAt.Before(t.tokens[first].expiresAt) {
				first = k
			}
		}
		if len(t.tokens) >= t.maxTokens {
			delete(t.tokens, first)
		}
	}
	t.tokens[key] = c
}

// fetch runs once per key at a time (singleflight). It requests a token and
// caches it.
//
// It calls Config.Token, which caches nothing, rather than keeping the
// config's TokenSource: that source is an oauth2.ReuseTokenSource, which
// judges expiry by the real clock with its own fixed margin, cannot drop a
// token the webhook refused, and keeps the context it was created with for
// every later refresh, so no per-request timeout could apply. Here the cache
// (one token per credential set), the injected clock and a fresh bounded
// context do those jobs; the config itself holds nothing worth keeping.
func (t *Tokens) fetch(key string, a callout.Auth0) (string, error) {
	// A caller that missed the cache just before the previous fetch stored
	// its token gets here after that fetch ended: reuse, don't refetch.
	if tok, ok := t.cached(key, (*cachedToken).fresh); ok {
		return tok, nil
	}
	ctx, cancel := context.WithTimeout(t.base, t.fetchTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, t.client)

	start := t.now()
	tok, err := config(a).Token(ctx)
	if err != nil {
		err = newTokenError(err, a.ClientSecret)
	}
	if t.onFetch != nil {
		t.onFetch(err)
	}
	if err != nil {
		// During the early-refresh window the old token is still valid: an
		// Auth0 hiccup then need not fail the callout.
		if old, ok := t.cached(key, (*cachedToken).valid); ok {
			return old, nil
		}
		return "", err
	}

	life := lifetime(tok)
	early := t.early
	if early <= 0 {
		early = min(maxEarlyRefresh, life/10)
	}
	early = min(early, life/2)
	c := &cachedToken{access: tok.AccessToken, refreshAt: start.Add(life - early), expiresAt: start.Add(life)}
	t.mu.Lock()
	t.store(key, c, t.now())
	t.mu.Unlock()
	return c.access, nil
}

// config is the client-credentials grant of a credential set.
func config(a callout.Auth0) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID:       a.ClientID,
		ClientSecret:   a.ClientSecret,
		TokenURL:       a.TokenURL(),
		EndpointParams: url.Values{"audience": {a.Audience}},
		// Auth0 takes the credentials in the form; naming the style also
		// avoids oauth2's probing, which would send a second request.
		AuthStyle: oauth2.AuthStyleInParams,
	}
}

// credentialKey is the SHA-256 of the four settings, so that changing any one
// of them uses a new token and the secret is not kept in clear as a map key.
// Each field is length-prefixed, so that no two settings collide by moving a
// boundary.
func credentialKey(a callout.Auth0) string {
	h := sha256.New()
	var n [8]byte
	for _, s := range [...]string{a.TenantDomain, a.ClientID, a.ClientSecret, a.Audience} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// lifetime is the validity the endpoint gave in expires_in, or
// DefaultTokenLifetime when it gave none, capped at MaxTokenLifetime. It reads
// expires_in itself because the token's Expiry was computed with the real
// clock, not the injected one.
func lifetime(tok *oauth2.Token) time.Duration {
	var secs float64
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		secs = v
	case int64:
		secs = float64(v)
	case string: // some endpoints send a JSON string
		secs, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
	}
	switch {
	case math.IsNaN(secs) || secs <= 0:
		return DefaultTokenLifetime
	case secs >= MaxTokenLifetime.Seconds():
		return MaxTokenLifetime
	}
	return time.Duration(secs * float64(time.Second))
}
