package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callout/callout"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func testVerifier() *Verifier {
	return NewVerifier(testSecret, func() time.Time { return testNow })
}

// sign signs claims with any method, for tokens Mint refuses to make.
func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signWithHeader signs claims with HS256 and testSecret, adding header's
// fields to the token's header.
func signWithHeader(t *testing.T, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	maps.Copy(tok.Header, header)
	s, err := tok.SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mint(t *testing.T, secret []byte, role Role, mfr string, ttl time.Duration, now time.Time) string {
	t.Helper()
	s, err := Mint(secret, role, mfr, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyAcceptsEachRole(t *testing.T) {
	v := testVerifier()
	for _, tc := range []struct {
		role Role
		mfr  string
	}{
		{RolePlatform, ""},
		{RoleAdmin, "103"},
		{RoleApp, "acme.eu_1-b"},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			c, err := v.Verify(mint(t, testSecret, tc.role, tc.mfr, time.Hour, testNow))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Role != tc.role || c.Manufacturer != tc.mfr {
				t.Errorf("got role %q mfr %q, want %q %q", c.Role, c.Manufacturer, tc.role, tc.mfr)
			}
			if got, want := c.ExpiresAt.Time, testNow.Add(time.Hour); !got.Equal(want) {
				t.Errorf("got exp %v, want %v", got, want)
			}
		})
	}
}

func TestVerifyToleratesSmallClockSkew(t *testing.T) {
	v := testVerifier()
	// Expired 20 s ago, and issued 20 s in the future: both within Leeway.
	for name, tok := range map[string]string{
		"exp just passed": mint(t, testSecret, RolePlatform, "", time.Minute, testNow.Add(-80*time.Second)),
		"iat just ahead":  mint(t, testSecret, RolePlatform, "", time.Hour, testNow.Add(20*time.Second)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(tok); err != nil {
				t.Fatalf("Verify: %v, want accepted within the %v leeway", err, Leeway)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	exp := testNow.Add(time.Hour).Unix()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	admin103 := mint(t, testSecret, RoleAdmin, "103", time.Hour, testNow)
	parts := strings.Split(admin103, ".")
	// The signature of manufacturer 103's token on a payload naming 104.
	tampered := parts[0] + "." + enc([]byte(fmt.Sprintf(`{"role":"admin","mfr":"104","exp":%d}`, exp))) + "." + parts[2]

	for _, tc := range []struct {
		name  string
		token string
		want  string
	}{
		{"empty", "", "the token is not a well-formed JWT"},
		{"garbage", "not-a-jwt", "the token is not a well-formed JWT"},
		{"too long", strings.Repeat("a", MaxTokenLength+1), "the token is longer than 8192 bytes"},
		{"expired", mint(t, testSecret, RolePlatform, "", time.Minute, testNow.Add(-time.Hour)), "the token has expired"},
		{"no exp", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "platform"}), "the token has no exp claim"},
		{"wrong secret", mint(t, []byte("another secret of at least 32 bytes!!"), RolePlatform, "", time.Hour, testNow), "the token's signature is invalid"},
		{"tampered payload", tampered, "the token's signature is invalid"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"role": "platform", "exp": exp}), "the token's algorithm must be HS256"},
		{"HS512", sign(t, jwt.SigningMethodHS512, testSecret, jwt.MapClaims{"role": "platform", "exp": exp}), "the token's algorithm must be HS256"},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{"role": "platform", "exp": exp}), "the token's algorithm must be HS256"},
		{"unknown alg", enc([]byte(`{"alg":"XS999","typ":"JWT"}`)) + "." + enc([]byte(`{"role":"platform"}`)) + ".c2ln", "the token's algorithm must be HS256"},
		{"no alg", enc([]byte(`{"typ":"JWT"}`)) + "." + enc([]byte(`{"role":"platform"}`)) + ".c2ln", "the token's algorithm must be HS256"},
		{"not valid yet", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "platform", "exp": exp, "nbf": testNow.Add(time.Minute).Unix()}), "the token is not valid yet"},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "platform", "exp": exp, "iat": testNow.Add(time.Minute).Unix()}), "the token's iat claim is in the future"},
		{"unknown role", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "root", "exp": exp}), "the token's role must be platform, admin or app"},
		{"no role", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"exp": exp}), "the token's role must be platform, admin or app"},
		{"admin without mfr", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "admin", "exp": exp}), "an admin or app token needs an mfr claim"},
		{"app without mfr", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "app", "exp": exp}), "an admin or app token needs an mfr claim"},
		{"mfr outside the id pattern", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "app", "mfr": "../104", "exp": exp}), "the token's mfr claim must be a manufacturer id: 1 to 64 letters, digits, '.', '_' or '-'"},
		{"platform with mfr", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "platform", "mfr": "103", "exp": exp}), "a platform token must not have an mfr claim"},
		// RFC 7519 §2: a NumericDate is a JSON number, never a string of digits.
		{"exp as a string", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "platform", "exp": fmt.Sprint(exp)}), "the token's exp claim must be a number of seconds, not a string"},
		{"nbf as a string", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "platform", "exp": exp, "nbf": fmt.Sprint(testNow.Unix())}), "the token's nbf claim must be a number of seconds, not a string"},
		{"iat as a string", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"role": "platform", "exp": exp, "iat": fmt.Sprint(testNow.Unix())}), "the token's iat claim must be a number of seconds, not a string"},
		// RFC 7515 §4.1.11: a recipient must refuse critical extensions it
		// does not understand, and Callout understands none.
		{"crit header", signWithHeader(t, map[string]any{"crit": []string{"exp"}}, jwt.MapClaims{"role": "platform", "exp": exp}), "the token has a crit header, and Callout supports no critical extension"},
		{"empty crit header", signWithHeader(t, map[string]any{"crit": []string{}}, jwt.MapClaims{"role": "platform", "exp": exp}), "the token has a crit header, and Callout supports no critical extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := testVerifier().Verify(tc.token)
			var e *callout.Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify = %+v, %v; want a *callout.Error", c, err)
			}
			if e.Code != callout.ECodeUnauthorized || e.Message != tc.want {
				t.Errorf("got %q %q, want %q %q", e.Code, e.Message, callout.ECodeUnauthorized, tc.want)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the error text contains the token")
			}
		})
	}
}

func TestVerifyWithoutSecretRefusesEverything(t *testing.T) {
	v := NewVerifier(nil, func() time.Time { return testNow })
	// Signed with the empty key, which an empty configured secret must not
	// accept.
	tok := sign(t, jwt.SigningMethodHS256, []byte{}, jwt.MapClaims{"role": "platform", "exp": testNow.Add(time.Hour).Unix()})
	if _, err := v.Verify(tok); callout.ErrorCode(err) != callout.ECodeUnauthorized {
		t.Fatalf("Verify = %v, want unauthorized", err)
	}
}

func TestCanAccess(t *testing.T) {
	for _, tc := range []struct {
		role Role
		mfr  string
		id   string
		want bool
	}{
		{RolePlatform, "", "103", true},
		{RolePlatform, "", "104", true},
		{RoleAdmin, "103", "103", true},
		{RoleAdmin, "103", "104", false},
		{RoleApp, "103", "103", true},
		{RoleApp, "103", "1033", false},
		{RoleApp, "", "", false},
		{Role("root"), "103", "103", false},
		{Role(""), "", "103", false},
	} {
		c := &Claims{Role: tc.role, Manufacturer: tc.mfr}
		if got := c.CanAccess(tc.id); got != tc.want {
			t.Errorf("%s of %q CanAccess(%q) = %v, want %v", tc.role, tc.mfr, tc.id, got, tc.want)
		}
	}
}

func TestMintRoundTrip(t *testing.T) {
	now := testNow.Add(400 * time.Millisecond) // NumericDate keeps whole seconds
	tok := mint(t, testSecret, RoleAdmin, "103", 90*time.Minute, now)
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &Claims{})
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed.Header["alg"]; got != "HS256" {
		t.Errorf("got alg %v, want HS256", got)
	}
	c, err := testVerifier().Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Role != RoleAdmin || c.Manufacturer != "103" {
		t.Errorf("got role %q mfr %q, want admin 103", c.Role, c.Manufacturer)
	}
	if c.IssuedAt == nil || !c.IssuedAt.Time.Equal(testNow) {
		t.Errorf("got iat %v, want %v", c.IssuedAt, testNow)
	}
	if c.ExpiresAt == nil || !c.ExpiresAt.Time.Equal(testNow.Add(90*time.Minute)) {
		t.Errorf("got exp %v, want %v", c.ExpiresAt, testNow.Add(90*time.Minute))
	}
}

func TestMintRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret []byte
		role   Role
		mfr    string
		ttl    time.Duration
		field  string
	}{
		{"empty secret", nil, RolePlatform, "", time.Hour, "secret"},
		{"unknown role", testSecret, Role("root"), "", time.Hour, "role"},
		{"empty role", testSecret, Role(""), "", time.Hour, "role"},
		{"admin without manufacturer", testSecret, RoleAdmin, "", time.Hour, "manufacturer"},
		{"app with a bad manufacturer", testSecret, RoleApp, "a/b", time.Hour, "manufacturer"},
		{"platform with a manufacturer", testSecret, RolePlatform, "103", time.Hour, "manufacturer"},
		{"zero ttl", testSecret, RolePlatform, "", 0, "ttl"},
		{"negative ttl", testSecret, RoleApp, "103", -time.Minute, "ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Mint(tc.secret, tc.role, tc.mfr, tc.ttl, testNow)
			var e *callout.Error
			if !errors.As(err, &e) || e.Code != callout.ECodeInvalid {
				t.Fatalf("Mint = %q, %v; want a validation_failed error", tok, err)
			}
			if len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
				t.Errorf("got fields %+v, want one for %q", e.Fields, tc.field)
			}
		})
	}
}

func TestCheckSecret(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret string
		ok     bool
	}{
		{"random base64", "q0vJ3Zk8m1yXo5bT2cWn7pLr4sAe6uHd9fGi0jKlMnO=", true},
		{"test secret", string(testSecret), true},
		{"empty", "", false},
		{"32 spaces", strings.Repeat(" ", 32), false},
		{"32 a", strings.Repeat("a", 32), false},
		{"one repeated byte", strings.Repeat("\x00", 64), false},
		{"a short pattern repeated", strings.Repeat("abc123", 6), false},
		{"7 distinct bytes in 32", strings.Repeat("abcdefg", 5)[:32], false},
		{"8 distinct bytes in 32", strings.Repeat("abcdefgh", 4), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSecret([]byte(tc.secret))
			if got := err == nil; got != tc.ok {
				t.Fatalf("CheckSecret = %v, want ok %v", err, tc.ok)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), "head -c32 /dev/urandom | base64") {
				t.Errorf("got %q, want it to say how to generate a secret", err)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the error holds the secret")
			}
		})
	}
}
