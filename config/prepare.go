package config

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
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
		jwt, err := loadOrCreateJWTSecret(filepath.Join(c.DataDir, JWTSecretFile))
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
		key, err := loadOrCreateKey(filepath.Join(c.DataDir, SecretKeyFile))
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

// loadOrCreateKey reads the base64 secret key at path, or generates one and
// writes it as secret.LoadOrCreateKeyFile would, but safely against a second
// process doing the same at the same moment.
func loadOrCreateKey(path string) ([]byte, error) {
	return loadOrCreate(path, func(data []byte) ([]byte, error) {
		return secret.ParseKey(string(data))
	})
}

// loadOrCreateJWTSecret reads the JWT secret at path, or generates one (the
// base64 of 32 random bytes). The secret is the file's text, trimmed, so the
// same value works as CALLOUT_JWT_SECRET.
func loadOrCreateJWTSecret(path string) ([]byte, error) {
	return loadOrCreate(path, func(data []byte) ([]byte, error) {
		jwt := bytes.TrimSpace(data)
		if len(jwt) < MinJWTSecretBytes {
			return nil, fmt.Errorf("too short: %d bytes, want at least %d", len(jwt), MinJWTSecretBytes)
		}
		return jwt, nil
	})
}

// loadOrCreate returns parse of the file at path. When there is none, it
// writes the base64 of 32 random bytes there first (mode 0600); both key
// files take that form. If another process wins the race to create the
// file, its content is used, so that every process shares one secret.
func loadOrCreate(path string, parse func([]byte) ([]byte, error)) ([]byte, error) {
	for range 2 {
		data, err := os.ReadFile(path)
		if err == nil {
			v, err := parse(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return v, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		raw := make([]byte, secret.KeySize)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("generating %s: %w", filepath.Base(path), err)
		}
		text := base64.StdEncoding.EncodeToString(raw)
		err = createFile(path, []byte(text+"\n"))
		if err == nil {
			return parse([]byte(text))
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// Another process created it first: read theirs.
	}
	return nil, fmt.Errorf("%s: created and removed while reading it", path)
}

// createFile writes data to path only if nothing is there, in such a way
// that no reader sees the file half-written: secret.WriteFile alone creates
// the file empty before writing it, and a process starting at that moment
// would read an empty key. The data goes to a temporary file first, which is
// then hard-linked into place (a link, unlike a rename, never replaces).
func createFile(path string, data []byte) error {
	tmp := path + "." + rand.Text() + ".tmp"
	if err := secret.WriteFile(tmp, data); err != nil {
		return err
	}
	defer os.Remove(tmp)
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// Some file systems have no hard links; an exclusive create still
	// never overwrites, and only the narrow race above remains.
	return secret.WriteFile(path, data)
}
