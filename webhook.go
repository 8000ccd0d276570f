package callout

import (
	"encoding/base64"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// AuthType is how Callout authenticates to a manufacturer's webhook.
type AuthType string

// The authentication types.
const (
	AuthNone   AuthType = "none"
	AuthBearer AuthType = "bearer"
	AuthAuth0  AuthType = "auth0"
)

// ExportFormat is the format of the export member of the payload.
type ExportFormat string

// The export formats: JSON is embedded as an object, XML and CSV as a string.
const (
	ExportJSON ExportFormat = "json"
	ExportXML  ExportFormat = "xml"
	ExportCSV  ExportFormat = "csv"
)

// Defaults and bounds of a webhook's settings.
const (
	DefaultSubmissionTimeout = 15 * time.Second
	DefaultPricingTimeout    = 5 * time.Second
	MinTimeoutMS             = 100
	MaxTimeoutMS             = 60_000
	DefaultPricingRetries    = 1
	MaxRetries               = 3
	DefaultBreakerFailures   = 5
	MaxBreakerFailures       = 1000
	DefaultBreakerOpen       = 30 * time.Second
	MaxBreakerOpenSeconds    = 3600
	MaxCacheSeconds          = 86_400
	MaxMessageLength         = 2000
	maxSecretLength          = 4096
)

// Webhook is one configured endpoint of a manufacturer. It holds secrets in
// clear; only the store (encrypted) and the outbound client ever see them.
type Webhook struct {
	ManufacturerID      string
	Kind                Kind
	Enabled             bool
	URL                 string
	Auth                Auth
	ExportFormat        ExportFormat
	TimeoutMS           int
	Retries             int
	GenericErrorMessage string
	Breaker             BreakerSettings
	SigningSecret       string // Standard Webhooks "whsec_…"; "" for none
	CacheSeconds        int    // pricing only: reuse an accepted price this long
	UpdatedAt           time.Time
}

// Auth holds the credentials of one authentication type.
type Auth struct {
	Type        AuthType
	BearerToken string
	Auth0       Auth0
}

// Auth0 holds the settings of an Auth0 client-credentials grant.
type Auth0 struct {
	// TenantDomain is a host name such as example.au.auth0.com, or, for tests
	// and private deployments, a full http(s)://host:port base URL.
	TenantDomain string
	ClientID     string
	ClientSecret string
	Audience     string
}

// TokenURL is the client-credentials token endpoint of the tenant.
func (a Auth0) TokenURL() string {
	base := a.TenantDomain
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	return strings.TrimSuffix(base, "/") + "/oauth/token"
}

// BreakerSettings configure a webhook's circuit breaker.
type BreakerSettings struct {
	ConsecutiveFailures int
	OpenSeconds         int
}

// NewWebhook returns a webhook of the given kind with every default set,
// including a pricing webhook's one retry (which SetDefaults cannot tell from
// an explicit 0).
func NewWebhook(manufacturerID string, kind Kind) *Webhook {
	w := &Webhook{ManufacturerID: manufacturerID, Kind: kind}
	if kind == KindPricing {
		w.Retries = DefaultPricingRetries
	}
	w.SetDefaults()
	return w
}

// SetDefaults fills every zero setting with its default.
func (w *Webhook) SetDefaults() {
	if w.Auth.Type == "" {
		w.Auth.Type = AuthNone
	}
	if w.ExportFormat == "" {
		w.ExportFormat = ExportJSON
	}
	if w.TimeoutMS == 0 {
		w.TimeoutMS = int(w.DefaultTimeout() / time.Millisecond)
	}
	if w.GenericErrorMessage == "" {
		w.GenericErrorMessage = DefaultGenericErrorMessage
	}
	if w.Breaker.ConsecutiveFailures == 0 {
		w.Breaker.ConsecutiveFailures = DefaultBreakerFailures
	}
	if w.Breaker.OpenSeconds == 0 {
		w.Breaker.OpenSeconds = int(DefaultBreakerOpen / time.Second)
	}
}

// DefaultTimeout is the default timeout of the webhook's kind.
func (w *Webhook) DefaultTimeout() time.Duration {
	if w.Kind == KindPricing {
		return DefaultPricingTimeout
	}
	return DefaultSubmissionTimeout
}

// Timeout bounds a whole callout, token fetch and retries included.
func (w *Webhook) Timeout() time.Duration { return time.Duration(w.TimeoutMS) * time.Millisecond }

// Validate checks every setting and returns a validation_failed error with one
// message per bad field, named as in the API (auth.auth0.client_id).
func (w *Webhook) Validate(p URLPolicy) error {
	var fe FieldErrors
	if !w.Kind.Valid() {
		fe.Add("kind", "must be submission or pricing")
	}
	if w.Enabled || w.URL != "" {
		checkURL(&fe, "url", w.URL, p)
	}
	checkAuth(&fe, w.Auth, p)
	switch w.ExportFormat {
	case ExportJSON, ExportXML, ExportCSV:
	default:
		fe.Add("export_format", "must be json, xml or csv")
	}
	if w.TimeoutMS < MinTimeoutMS || w.TimeoutMS > MaxTimeoutMS {
		fe.Add("timeout_ms", "must be from %d to %d", MinTimeoutMS, MaxTimeoutMS)
	}
	switch {
	case w.Retries < 0 || w.Retries > MaxRetries:
		fe.Add("retries", "must be from 0 to %d", MaxRetries)
	case w.Kind == KindSubmission && w.Retries != 0:
		fe.Add("retries", "must be 0 for submission: a submission is not safe to repeat")
	}
	if w.GenericErrorMessage == "" || utf8.RuneCountInString(w.GenericErrorMessage) > MaxMessageLength {
		fe.Add("generic_error_message", "must be 1 to %d characters", MaxMessageLength)
	}
	if b := w.Breaker; b.ConsecutiveFailures < 1 || b.ConsecutiveFailures > MaxBreakerFailures {
		fe.Add("breaker.consecutive_failures", "must be from 1 to %d", MaxBreakerFailures)
	}
	if b := w.Breaker; b.OpenSeconds < 1 || b.OpenSeconds > MaxBreakerOpenSeconds {
		fe.Add("breaker.open_seconds", "must be from 1 to %d", MaxBreakerOpenSeconds)
	}
	if w.SigningSecret != "" && !ValidSigningSecret(w.SigningSecret) {
		fe.Add("signing_secret", "must be whsec_ followed by the base64 of 24 to 64 random bytes")
	}
	switch {
	case w.CacheSeconds < 0 || w.CacheSeconds > MaxCacheSeconds:
		fe.Add("cache_seconds", "must be from 0 to %d", MaxCacheSeconds)
	case w.Kind == KindSubmission && w.CacheSeconds != 0:
		fe.Add("cache_seconds", "must be 0 for submission")
	}
	return fe.Err()
}

// checkAuth checks the credentials of the auth type, as webhooks and event
// endpoints have them.
func checkAuth(fe *FieldErrors, auth Auth, p URLPolicy) {
	switch auth.Type {
	case AuthNone:
	case AuthBearer:
		checkSecret(fe, "auth.bearer_token", auth.BearerToken)
	case AuthAuth0:
		a := auth.Auth0
		checkTenant(fe, a.TenantDomain, p)
		checkSecret(fe, "auth.auth0.client_id", a.ClientID)
		checkSecret(fe, "auth.auth0.client_secret", a.ClientSecret)
		if len(a.Audience) > maxSecretLength || hasControl(a.Audience) {
			fe.Add("auth.auth0.audience", "must be at most %d characters without control characters", maxSecretLength)
		}
	default:
		fe.Add("auth.type", "must be none, bearer or auth0")
	}
}

// Auth0 returns the Auth0 settings.
func (w *Webhook) Auth0() Auth0 { return w.Auth.Auth0 }

// ValidSigningSecret reports whether s is a Standard Webhooks secret:
// "whsec_" and the base64 of 24 to 64 bytes.
func ValidSigningSecret(s string) bool {
	key, err := SigningKey(s)
	return err == nil && len(key) >= 24 && len(key) <= 64
}

// SigningKey decodes a Standard Webhooks secret into its HMAC key.
func SigningKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, Errorf(ECodeInvalid, "a signing secret starts with whsec_")
	}
	return base64.StdEncoding.DecodeString(rest)
}

// checkURL applies the URL policy to a webhook's or a tenant's URL, with a
// message per broken rule, and returns the URL when it parsed.
func checkURL(fe *FieldErrors, field, raw string, p URLPolicy) *url.URL {
	u, err := p.CheckURL(raw)
	var broken URLRule
	if ue := (*URLError)(nil); errors.As(err, &ue) {
		broken = ue.Rule
	}
	switch {
	case raw == "":
		fe.Add(field, "is required when the webhook is enabled")
	case broken == URLNotAbsolute:
		fe.Add(field, "must be an absolute URL such as https://erp.example.com/hooks/submit")
	case broken == URLCredentials:
		fe.Add(field, "must not carry credentials; configure them under auth")
	case u.Fragment != "":
		fe.Add(field, "must not have a fragment")
	case broken == URLInsecureHTTP:
		fe.Add(field, "must use https (plain http is allowed only with CALLOUT_ALLOW_INSECURE_HTTP=true)")
	case err != nil && p.AllowInsecureHTTP:
		fe.Add(field, "must use http or https")
	case err != nil:
		fe.Add(field, "must use https")
	default:
		checkHost(fe, field, u.Hostname(), p)
	}
	if len(raw) > 2048 {
		fe.Add(field, "must be at most 2048 characters")
	}
	return u
}

// checkHost refuses a literal forbidden address (the README's CALLOUT_ALLOW_PRIVATE_NETWORKS) when the
// configuration is made, not only when the first callout is.
func checkHost(fe *FieldErrors, field, host string, p URLPolicy) {
	var ue *URLError
	if errors.As(p.CheckHost(host), &ue) {
		fe.Add(field, "must not name %s, %s; such addresses are allowed only with CALLOUT_ALLOW_PRIVATE_NETWORKS=true", ue.Addr, ue.Reason)
	}
}

// checkTenant accepts a bare host name, or a full base URL without a path.
func checkTenant(fe *FieldErrors, domain string, p URLPolicy) {
	const field = "auth.auth0.tenant_domain"
	if strings.Contains(domain, "://") {
		n := len(*fe)
		if u := checkURL(fe, field, domain, p); len(*fe) == n && strings.Trim(u.Path, "/") != "" {
			fe.Add(field, "must be a host name or a base URL without a path")
		}
		return
	}
	host := domain
	if h, _, err := net.SplitHostPort(domain); err == nil {
		host = h
	}
	if host == "" || len(domain) > 253 || strings.ContainsAny(domain, "/?#@ \t") || hasControl(domain) {
		fe.Add(field, "must be a host name such as example.au.auth0.com")
		return
	}
	checkHost(fe, field, strings.Trim(host, "[]"), p)
}

func checkSecret(fe *FieldErrors, field, v string) {
	switch {
	case v == "":
		fe.Add(field, "is required")
	case len(v) > maxSecretLength:
		fe.Add(field, "must be at most %d characters", maxSecretLength)
	case hasControl(v):
		fe.Add(field, "must not contain control characters")
	}
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
