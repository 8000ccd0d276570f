package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	box, err := NewBox(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("bearer-token-value")
	sealed, err := box.Seal(plain, []byte("103/submission"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatalf("sealed value holds the plaintext")
	}
	got, err := box.Open(sealed, []byte("103/submission"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v; want %q", got, err, plain)
	}
	if _, err := box.Open(sealed, []byte("104/submission")); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with other additional data: got %v, want ErrOpen", err)
	}
	other, _ := NewBox(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(sealed, []byte("103/submission")); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with other key: got %v, want ErrOpen", err)
	}
	again, _ := box.Seal(plain, []byte("103/submission"))
	if bytes.Equal(again, sealed) {
		t.Errorf("two seals of one value are equal; nonces must differ")
	}
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb}, KeySize)
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"std", base64.StdEncoding.EncodeToString(key), true},
		{"url raw", base64.RawURLEncoding.EncodeToString(key), true},
		{"trailing newline", base64.StdEncoding.EncodeToString(key) + "\n", true},
		{"short", base64.StdEncoding.EncodeToString(key[:16]), false},
		{"not base64", "not a key!", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseKey error = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && !bytes.Equal(got, key) {
				t.Errorf("ParseKey = %x, want %x", got, key)
			}
		})
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "secret.key")
	key, err := LoadOrCreateKeyFile(path)
	if err != nil || len(key) != KeySize {
		t.Fatalf("first call = %d bytes, %v", len(key), err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}
	again, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(again, key) {
		t.Errorf("second call = %x, %v; want the same key", again, err)
	}
	if err := WriteFile(path, []byte("other")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteFile over an existing file = %v, want fs.ErrExist", err)
	}
}
