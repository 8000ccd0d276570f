// Package secret seals webhook secrets at rest with AES-256-GCM, and loads or
// generates the key that does it.
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySize is the length of an AES-256 key.
const KeySize = 32

// version prefixes every sealed value so that the format can change later.
const version byte = 1

// Box seals and opens values with one AES-256-GCM key.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key: got %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext. The additional data binds the ciphertext to where it
// is stored (a webhook's manufacturer and kind), so that it cannot be moved.
func (b *Box) Seal(plaintext, additional []byte) ([]byte, error) {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	return b.aead.Seal(out, out[1:], plaintext, additional), nil
}

// ErrOpen is returned when a sealed value cannot be opened: a wrong key, a
// damaged value, or additional data that does not match.
var ErrOpen = errors.New("sealed value cannot be opened with this key")

// Open decrypts a value made by Seal with the same additional data.
func (b *Box) Open(sealed, additional []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], additional)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// ParseKey decodes a base64 key (standard or URL alphabet, padded or not), as
// CALLOUT_SECRET_KEY holds it.
func ParseKey(s string) ([]byte, error) {
	s = string(bytes.TrimSpace([]byte(s)))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("secret key: got %d bytes, want the base64 of %d", len(key), KeySize)
			}
			return key, nil
		}
	}
	return nil, errors.New("secret key: not base64")
}

// LoadOrCreateKeyFile reads the base64 key at path, or, when there is none,
// generates a random one and writes it there with mode 0600.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	return LoadOrCreateFile(path, func(data []byte) ([]byte, error) { return ParseKey(string(data)) })
}

// LoadOrCreateFile returns parse of the file at path. When there is none, it
// first writes there, with mode 0600, the base64 of KeySize random bytes. If
// another process creates the file at the same moment, its content is used,
// so every process sharing the directory shares one secret.
func LoadOrCreateFile(path string, parse func([]byte) ([]byte, error)) ([]byte, error) {
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
			return nil, fmt.Errorf("reading %s: %w", filepath.Base(path), err)
		}
		raw := make([]byte, KeySize)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("generating %s: %w", filepath.Base(path), err)
		}
		text := base64.StdEncoding.EncodeToString(raw)
		err = WriteFile(path, []byte(text+"\n"))
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

// WriteFile writes data to a new file at path with mode 0600, creating its
// directory with mode 0700. It never overwrites an existing file (the error
// is then fs.ErrExist), and no reader ever sees the file half-written: the
// data goes to a temporary file first, which is then hard-linked into place
// (a link, unlike a rename, never replaces).
func WriteFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating directory for %s: %w", filepath.Base(path), err)
	}
	tmp := path + "." + rand.Text() + ".tmp"
	if err := writeNew(tmp, data); err != nil {
		return err
	}
	defer os.Remove(tmp)
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// Some file systems have no hard links; an exclusive create still never
	// overwrites, leaving only a narrow window in which a reader could see
	// the file empty.
	return writeNew(path, data)
}

// writeNew creates path exclusively with mode 0600 and writes data to disk.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Base(path), err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return f.Close()
}
