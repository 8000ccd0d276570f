package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/callout/callout/secret"
)

const (
	testJWTSecret = "test-jwt-secret-0123456789abcdefghij"
	testSecretKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	testPGURL     = "postgres://callout:pw-in-url@127.0.0.1:5432/callout"
)

// devConfig is development mode on the embedded database in a fresh
// directory that does not exist yet.
func devConfig(t *testing.T) *Config {
	c := Default()
	c.Dev = true
	c.DataDir = filepath.Join(t.TempDir(), "data")
	return c
}

func TestPrepareDevGeneratesSecretsOnce(t *testing.T) {
	c := devConfig(t)
	first, err := c.Prepare()
	if err != nil {
		t.Fatalf("first Prepare: %v", err)
	}
	assertMode(t, c.DataDir, 0o700)
	jwtPath, keyPath := filepath.Join(c.DataDir, JWTSecretFile), filepath.Join(c.DataDir, SecretKeyFile)
	assertMode(t, jwtPath, 0o600)
	assertMode(t, keyPath, 0o600)
	if len(first.JWTSecret) < MinJWTSecretBytes {
		t.Errorf("generated JWT secret has %d bytes, want at least %d", len(first.JWTSecret), MinJWTSecretBytes)
	}
	if len(first.SecretKey) != secret.KeySize {
		t.Errorf("generated secret key has %d bytes, want %d", len(first.SecretKey), secret.KeySize)
	}
	jwtFile, keyFile := readFile(t, jwtPath), readFile(t, keyPath)

	// The JWT file's text is the secret, usable as CALLOUT_JWT_SECRET.
	if got := strings.TrimSpace(string(jwtFile)); got != string(first.JWTSecret) {
		t.Error("jwt_secret file does not hold the JWT secret Prepare returned")
	}
	if raw, err := base64.StdEncoding.DecodeString(string(first.JWTSecret)); err != nil || len(raw) != 32 {
		t.Errorf("generated JWT secret is not the base64 of 32 bytes (err %v)", err)
	}

	second, err := c.Prepare()
	if err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
	if !bytes.Equal(first.JWTSecret, second.JWTSecret) || !bytes.Equal(first.SecretKey, second.SecretKey) {
		t.Error("second Prepare returned different secrets, want the ones generated first")
	}
	if !bytes.Equal(jwtFile, readFile(t, jwtPath)) || !bytes.Equal(keyFile, readFile(t, keyPath)) {
		t.Error("second Prepare rewrote the key files")
	}
}

// TestPrepareConcurrentStarts checks that processes starting at once on one
// data directory all end up with the same secrets.
func TestPrepareConcurrentStarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	const n = 8
	got := make([]*Secrets, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := Default()
			c.Dev, c.DataDir = true, dir
			got[i], errs[i] = c.Prepare()
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Prepare %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i].JWTSecret, got[0].JWTSecret) || !bytes.Equal(got[i].SecretKey, got[0].SecretKey) {
			t.Errorf("Prepare %d returned other secrets than Prepare 0", i)
		}
	}
}

func TestPrepareReadsExistingFiles(t *testing.T) {
	c := devConfig(t)
	jwt := "an-operator-chosen-jwt-secret-of-40-bytes"
	if err := secret.WriteFile(filepath.Join(c.DataDir, JWTSecretFile), []byte(jwt+"\n")); err != nil {
		t.Fatal(err)
	}
	if err := secret.WriteFile(filepath.Join(c.DataDir, SecretKeyFile), []byte(testSecretKey+"\n")); err != nil {
		t.Fatal(err)
	}
	s, err := c.Prepare()
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if string(s.JWTSecret) != jwt {
		t.Error("JWT secret is not the trimmed content of jwt_secret")
	}
	want, _ := secret.ParseKey(testSecretKey)
	if !bytes.Equal(s.SecretKey, want) {
		t.Error("secret key is not the one in secret.key")
	}
}

func TestPrepareGivenSecrets(t *testing.T) {
	want, _ := secret.ParseKey(testSecretKey)
	tests := []struct {
		name       string
		dev        bool
		url        string
		wantDir    bool // whether the data directory is created
		wantKeyGen bool // whether secret.key is generated
	}{
		{"postgres", false, testPGURL, false, false},
		{"postgres in dev mode", true, testPGURL, false, false},
		{"embedded", false, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Dev, c.DatabaseURL = tt.dev, tt.url
			c.DataDir = filepath.Join(t.TempDir(), "data")
			c.JWTSecret, c.SecretKey = testJWTSecret, testSecretKey
			s, err := c.Prepare()
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if string(s.JWTSecret) != testJWTSecret || !bytes.Equal(s.SecretKey, want) {
				t.Error("Prepare did not return the given secrets")
			}
			_, statErr := os.Stat(c.DataDir)
			if exists := statErr == nil; exists != tt.wantDir {
				t.Errorf("data directory exists = %v, want %v", exists, tt.wantDir)
			}
			for _, name := range []string{JWTSecretFile, SecretKeyFile} {
				if _, err := os.Stat(filepath.Join(c.DataDir, name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s was written although its secret was given", name)
				}
			}
		})
	}
}

func TestPrepareGeneratesKeyForEmbeddedDatabase(t *testing.T) {
	c := Default()
	c.DataDir = filepath.Join(t.TempDir(), "data")
	c.JWTSecret = testJWTSecret
	s, err := c.Prepare()
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	assertMode(t, filepath.Join(c.DataDir, SecretKeyFile), 0o600)
	if len(s.SecretKey) != secret.KeySize {
		t.Errorf("secret key has %d bytes, want %d", len(s.SecretKey), secret.KeySize)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, JWTSecretFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("jwt_secret was generated outside development mode")
	}
}

func TestPrepareAppliesDev(t *testing.T) {
	c := devConfig(t)
	if _, err := c.Prepare(); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if !c.AllowPrivateNetworks || !c.AllowInsecureHTTP {
		t.Errorf("after Prepare in dev mode: AllowPrivateNetworks, AllowInsecureHTTP = %v, %v, want true", c.AllowPrivateNetworks, c.AllowInsecureHTTP)
	}
}

func TestPrepareErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"no JWT secret", func(c *Config) {}, []string{"CALLOUT_JWT_SECRET is required (or run with --dev)"}},
		{"no secret key with postgres", func(c *Config) {
			c.JWTSecret, c.DatabaseURL = testJWTSecret, testPGURL
		}, []string{"CALLOUT_SECRET_KEY is required with CALLOUT_DATABASE_URL"}},
		{"neither", func(c *Config) { c.DatabaseURL = testPGURL }, []string{
			"CALLOUT_JWT_SECRET is required (or run with --dev)",
			"CALLOUT_SECRET_KEY is required with CALLOUT_DATABASE_URL",
		}},
		{"invalid configuration", func(c *Config) { c.JWTSecret = "short-jwt-secret" }, []string{"CALLOUT_JWT_SECRET: too short"}},
		{"short jwt_secret file", func(c *Config) {
			c.Dev = true
			writeFile(t, filepath.Join(c.DataDir, JWTSecretFile), "short-file-secret\n")
		}, []string{"JWT secret: " + "DIR/" + JWTSecretFile + ": too short"}},
		{"damaged secret.key", func(c *Config) {
			c.JWTSecret = testJWTSecret
			writeFile(t, filepath.Join(c.DataDir, SecretKeyFile), "damaged key file!\n")
		}, []string{"secret key: DIR/" + SecretKeyFile + ": secret key: not base64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.DataDir = t.TempDir()
			tt.change(c)
			s, err := c.Prepare()
			if s != nil {
				t.Error("Prepare returned secrets with an error")
			}
			if err != nil {
				err = errors.New(strings.ReplaceAll(err.Error(), c.DataDir, "DIR"))
			}
			assertLines(t, err, tt.want...)
			for i, secret := range []string{"short-jwt-secret", "short-file-secret", "damaged key file!", "pw-in-url"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error reveals test secret %d", i) // not the secret itself
				}
			}
		})
	}
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), got, want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTokenSecret checks that `callout token` signs with the secret the
// server of the same data directory verifies with, and never makes one up.
func TestTokenSecret(t *testing.T) {
	served := devConfig(t)
	secrets, err := served.Prepare()
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	again := Default()
	again.Dev, again.DataDir = true, served.DataDir
	got, err := again.TokenSecret()
	if err != nil || !bytes.Equal(got, secrets.JWTSecret) {
		t.Errorf("TokenSecret of the server's data directory = %q, %v, want the server's secret", got, err)
	}

	other := devConfig(t)
	if _, err := other.TokenSecret(); err == nil || !strings.Contains(err.Error(), other.DataDir) || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("TokenSecret of an unused data directory: %v, want an error naming it and --data-dir", err)
	}
	if _, err := os.Stat(other.DataDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("TokenSecret created %s (%v), want nothing written", other.DataDir, err)
	}

	given := Default()
	given.JWTSecret = testJWTSecret
	if got, err := given.TokenSecret(); err != nil || string(got) != testJWTSecret {
		t.Errorf("TokenSecret with CALLOUT_JWT_SECRET = %q, %v, want it", got, err)
	}
	if _, err := Default().TokenSecret(); err == nil || !strings.Contains(err.Error(), "CALLOUT_JWT_SECRET is required") {
		t.Errorf("TokenSecret with nothing set: %v, want CALLOUT_JWT_SECRET is required", err)
	}
}
