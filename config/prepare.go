package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/callout/callout/secret"
)

// File names in the data directory.
const (
	// JWTSecretFile holds the JWT secret generated in development mode, as
	// text that could be given as CALLOUT_JWT_SECRET unchanged.
	JWTSecretFile = "jwt_secret"
	// SecretKeyFile holds the secret key generated for the embedded database,
	// as CALLOUT_SECRET_KEY would give it.
	SecretKeyFile = "secret.key"
)

// Secrets are the key material a process needs, resolved by Prepare.
type Secrets struct {
	// JWTSecret signs and verifies API tokens.
	JWTSecret []byte
	// SecretKey is the 32-byte AES key that seals webhook secrets at rest.
	SecretKey []byte
}

// String keeps the secrets out of anything that prints a Secrets.
func (s Secrets) String() string { return "config.Secrets{redacted}" }

// LogValue keeps the secrets out of logs.
func (s Secrets) LogValue() slog.Value { return slog.StringValue("redacted") }

// GoString makes %#v as safe as %v.
func (s Secrets) GoString() string { return s.String() }

// Prepare resolves the secrets and creates the data directory (mode 0700)
// when it will be used. The JWT secret comes from CALLOUT_JWT_SECRET or, in
// development mode, from DataDir/jwt_secret, generated on first use. The
// secret key comes from CALLOUT_SECRET_KEY or, on the embedded SQLite
// database, from DataDir/secret.key, generated on first use; PostgreSQL
// requires it to be given, since every process sharing the database must use
// the same key. Generated files have mode 0600 and are never overwritten.
//
// Prepare also applies what Dev implies, so a Config built in code with Dev
// set behaves as --dev does, and validates c.
func (c *Config) Prepare() (*Secrets, error) {
	c.applyDev()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	generateJWT := c.JWTSecret == "" && c.Dev
	embedded := c.DatabaseURL == ""
	if generateJWT || embedded {
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
	}

	var (
		s    Secrets
		errs []error
	)
	switch {
	case c.JWTSecret != "":
		s.JWTSecret = []byte(c.JWTSecret)
	case generateJWT:
		jwt, err := loadOrCreateJWTSecret(c.JWTSecretPath())
		if err != nil {
			errs = append(errs, fmt.Errorf("JWT secret: %w", err))
		}
		s.JWTSecret = jwt
	default:
		errs = append(errs, errors.New("CALLOUT_JWT_SECRET is required (or run with --dev)"))
	}

	switch {
	case c.SecretKey != "":
		key, err := secret.ParseKey(c.SecretKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("CALLOUT_SECRET_KEY: %w", err))
		}
		s.SecretKey = key
	case embedded:
		key, err := secret.LoadOrCreateKeyFile(c.SecretKeyPath())
		if err != nil {
			errs = append(errs, fmt.Errorf("secret key: %w", err))
		}
		s.SecretKey = key
	default:
		errs = append(errs, errors.New("CALLOUT_SECRET_KEY is required with CALLOUT_DATABASE_URL"))
	}

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &s, nil
}

// JWTSecretPath is where development mode keeps its generated JWT secret.
func (c *Config) JWTSecretPath() string { return filepath.Join(c.DataDir, JWTSecretFile) }

// SecretKeyPath is where the embedded database's generated secret key is kept.
func (c *Config) SecretKeyPath() string { return filepath.Join(c.DataDir, SecretKeyFile) }

// TokenSecret returns the JWT secret a server with this configuration
// verifies tokens with: CALLOUT_JWT_SECRET or, in development mode, the one
// generated in the data directory. It never generates one: a token signed
// with a secret no server uses would be refused with 401, so a missing file
// is an error naming the directory looked in. It touches nothing else.
func (c *Config) TokenSecret() ([]byte, error) {
	c.applyDev()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch {
	case c.JWTSecret != "":
		return []byte(c.JWTSecret), nil
	case !c.Dev:
		return nil, errors.New("CALLOUT_JWT_SECRET is required (or --dev, to use the secret `callout serve --dev` generated in the data directory)")
	}
	path := c.JWTSecretPath()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no JWT secret in %s: start `callout serve --dev --data-dir %s` first, or give --data-dir the directory the server uses", path, c.DataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("JWT secret: %w", err)
	}
	jwt, err := parseJWTSecret(data)
	if err != nil {
		return nil, fmt.Errorf("JWT secret in %s: %w", path, err)
	}
	return jwt, nil
}

// loadOrCreateJWTSecret reads the JWT secret at path, or generates one (the
// base64 of 32 random bytes). The secret is the file's text, trimmed, so the
// same value works as CALLOUT_JWT_SECRET.
func loadOrCreateJWTSecret(path string) ([]byte, error) {
	return secret.LoadOrCreateFile(path, parseJWTSecret)
}

// parseJWTSecret reads a JWT secret file's text, trimmed.
func parseJWTSecret(data []byte) ([]byte, error) {
	jwt := bytes.TrimSpace(data)
	if len(jwt) < MinJWTSecretBytes {
		return nil, fmt.Errorf("too short: %d bytes, want at least %d", len(jwt), MinJWTSecretBytes)
	}
	return jwt, nil
}
