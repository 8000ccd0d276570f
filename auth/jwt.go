package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callout/callout"
)

// Role is what an API token may do.
type Role string

// The roles of the README's route reference: platform acts for every manufacturer, admin configures
// its own manufacturer, app stores and submits its own manufacturer's jobs.
const (
	RolePlatform Role = "platform"
	RoleAdmin    Role = "admin"
	RoleApp      Role = "app"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r == RolePlatform || r == RoleAdmin || r == RoleApp }

// scoped reports whether tokens of role r belong to one manufacturer.
func (r Role) scoped() bool { return r == RoleAdmin || r == RoleApp }

// Leeway is the clock skew tolerated on exp, nbf and iat, so that a token
// minted on a host whose clock is slightly ahead is not refused.
const Leeway = 30 * time.Second

// MaxTokenLength bounds the tokens Verify will parse, so that a huge header
// cannot make the server decode megabytes of base64 and JSON.
const MaxTokenLength = 8 << 10

// algorithm is the only signing algorithm accepted or produced.
const algorithm = "HS256"

// Claims are the claims of an API token.
type Claims struct {
	Role         Role   `json:"role"`
	Manufacturer string `json:"mfr,omitempty"`
	jwt.RegisteredClaims
}

// CanAccess reports whether the token may see anything of the manufacturer:
// a platform token sees every manufacturer, an admin or app token only its
// own. Callers answer 404 when it may not, so that other tenants stay
// invisible.
func (c *Claims) CanAccess(manufacturerID string) bool {
	switch c.Role {
	case RolePlatform:
		return true
	case RoleAdmin, RoleApp:
		return c.Manufacturer != "" && c.Manufacturer == manufacturerID
	default:
		return false
	}
}

// checkRole applies the rules of the README's route reference to a token's role and manufacturer,
// for Verify and Mint alike. When they are broken, it names the one at
// fault, "role" or "manufacturer", and says why in a message fit for the
// caller of the API.
func checkRole(role Role, manufacturer string) (field, msg string) {
	switch {
	case !role.Valid():
		return "role", "the token's role must be platform, admin or app"
	case role.scoped() && manufacturer == "":
		return "manufacturer", "an admin or app token needs an mfr claim"
	case role.scoped() && !callout.ValidID(manufacturer):
		return "manufacturer", "the token's mfr claim must be a manufacturer id: 1 to 64 letters, digits, '.', '_' or '-'"
	case role == RolePlatform && manufacturer != "":
		// A platform token acts for every manufacturer; one naming a
		// manufacturer is ambiguous, and refusing it is the safe reading.
		return "manufacturer", "a platform token must not have an mfr claim"
	}
	return "", ""
}

// UnmarshalJSON refuses exp, nbf and iat given as strings. RFC 7519 §2 makes
// them NumericDates, JSON numbers; the library alone would take a string of
// digits too, and a token that bends the format is not one Callout minted.
//
// It reads the token once: the three dates are taken as raw JSON beside the
// other claims (their fields shadow RegisteredClaims'), then checked and
// converted.
func (c *Claims) UnmarshalJSON(b []byte) error {
	type plain Claims // without this method
	v := struct {
		*plain
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	for _, t := range []struct {
		claim string
		raw   json.RawMessage
		dst   **jwt.NumericDate
	}{{"exp", v.Exp, &c.ExpiresAt}, {"nbf", v.Nbf, &c.NotBefore}, {"iat", v.Iat, &c.IssuedAt}} {
		switch {
		case len(t.raw) == 0 || string(t.raw) == "null":
			*t.dst = nil
		case t.raw[0] == '"':
			return &stringDateError{claim: t.claim}
		default:
			d := new(jwt.NumericDate)
			if err := d.UnmarshalJSON(t.raw); err != nil {
				return err
			}
			*t.dst = d
		}
	}
	return nil
}

// stringDateError is a time claim given as a string.
type stringDateError struct{ claim string }

func (e *stringDateError) Error() string {
	return "the token's " + e.claim + " claim must be a number of seconds, not a string"
}

// Verifier checks API tokens. It is safe for concurrent use.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
}

// NewVerifier returns a Verifier of HS256 tokens signed with secret, judging
// exp, nbf and iat by now (nil: time.Now). With an empty secret every token
// is refused.
func NewVerifier(secret []byte, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		secret: append([]byte(nil), secret...),
		parser: jwt.NewParser(
			// Naming the one algorithm refuses alg none and the classic
			// RS256-public-key-as-HMAC-secret confusion alike.
			jwt.WithValidMethods([]string{algorithm}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now),
			jwt.WithLeeway(Leeway),
		),
	}
}

// Verify checks token's signature, algorithm, times and claims and returns
// its claims. Every failure is an *callout.Error with code unauthorized and a
// message safe to show the caller; neither ever contains the token.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if len(token) > MaxTokenLength {
		return nil, unauthorized(fmt.Sprintf("the token is longer than %d bytes", MaxTokenLength), nil)
	}
	claims := &Claims{}
	parsed, err := v.parser.ParseWithClaims(token, claims, v.key)
	if err != nil {
		return nil, parseError(parsed, err)
	}
	if _, msg := checkRole(claims.Role, claims.Manufacturer); msg != "" {
		return nil, unauthorized(msg, nil)
	}
	return claims, nil
}

var (
	errNoSecret = errors.New("no JWT secret is configured")
	errCrit     = errors.New("the token has a crit header")
)

func (v *Verifier) key(t *jwt.Token) (any, error) {
	// RFC 7515 §4.1.11: a recipient must refuse a token naming critical
	// extensions it does not understand, and Callout understands none.
	if _, ok := t.Header["crit"]; ok {
		return nil, errCrit
	}
	if len(v.secret) == 0 {
		return nil, errNoSecret
	}
	return v.secret, nil
}

// parseError turns a jwt error into the most specific public message. The
// library's error is kept as the internal cause: it names what failed, never
// the token itself.
func parseError(parsed *jwt.Token, err error) error {
	var msg string
	var stringDate *stringDateError
	switch {
	case errors.As(err, &stringDate):
		msg = stringDate.Error()
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "the token is not a well-formed JWT"
	case parsed != nil && parsed.Header["alg"] != algorithm:
		// Checked before the signature: the library reports a refused
		// algorithm as an invalid signature, which would mislead.
		msg = "the token's algorithm must be " + algorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		msg = "the token's signature is invalid"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "the token has no exp claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		msg = "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "the token's iat claim is in the future"
	case errors.Is(err, errCrit):
		msg = "the token has a crit header, and Callout supports no critical extension"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		msg = "the token cannot be verified"
	default:
		msg = "the token is invalid"
	}
	return unauthorized(msg, err)
}

func unauthorized(msg string, cause error) *callout.Error {
	return &callout.Error{Code: callout.ECodeUnauthorized, Message: msg, Err: cause}
}

// Mint returns an HS256 token for role, valid for ttl from now. manufacturer
// is required for admin and app tokens and must be empty for platform ones.
// Invalid arguments give a validation_failed *callout.Error.
func Mint(secret []byte, role Role, manufacturer string, ttl time.Duration, now time.Time) (string, error) {
	var fe callout.FieldErrors
	if len(secret) == 0 {
		fe.Add("secret", "is required")
	}
	if field, msg := checkRole(role, manufacturer); msg != "" {
		fe.Add(field, "%s", msg)
	}
	if ttl <= 0 {
		fe.Add("ttl", "must be positive")
	}
	if err := fe.Err(); err != nil {
		return "", err
	}
	claims := Claims{
		Role:         role,
		Manufacturer: manufacturer,
		RegisteredClaims: jwt.RegisteredClaims{
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", role, err)
	}
	return s, nil
}

// minSecretBytes is the fewest distinct byte values CheckSecret accepts. 32
// random bytes, or their base64, hold about 30 (8 or fewer is less likely
// than one in 10^20); a placeholder or a key held down holds fewer.
const minSecretBytes = 8

// CheckSecret refuses a JWT secret that is obviously weak: one made of fewer
// than 8 distinct bytes, such as 32 spaces, 32 × 'a' or a short pattern
// repeated, whose HS256 tokens anyone could forge. It cannot prove a secret
// strong; its length is checked with the rest of the configuration. The
// error says how to make a good secret and never holds the secret.
func CheckSecret(secret []byte) error {
	var seen [256]bool
	distinct := 0
	for _, b := range secret {
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < minSecretBytes {
		return fmt.Errorf("the JWT secret is too weak: it is made of %d distinct bytes, want at least %d; generate one with: head -c32 /dev/urandom | base64", distinct, minSecretBytes)
	}
	return nil
}
