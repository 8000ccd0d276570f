package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/callout/callout"
)

// How long a sign-in link and a session last (README: The console).
const (
	LinkTTL    = 10 * time.Minute
	SessionTTL = 8 * time.Hour
)

// SignInPath is the console page a sign-in link opens; the link's token is
// its token query parameter.
const SignInPath = "/console/sign-in"

// Store keeps the console's links and sessions, by the hashes of their
// tokens; *store.Store is one.
type Store interface {
	GetManufacturer(ctx context.Context, id string) (*callout.Manufacturer, error)
	CreateConsoleLink(ctx context.Context, tokenHash, manufacturerID string, expires time.Time) error
	UseConsoleLink(ctx context.Context, tokenHash string, now time.Time) (string, error)
	CreateConsoleSession(ctx context.Context, tokenHash string, s callout.ConsoleSession) error
	GetConsoleSession(ctx context.Context, tokenHash string, now time.Time) (*callout.ConsoleSession, error)
	DeleteConsoleSession(ctx context.Context, tokenHash string) error
}

// Links issues one-time sign-in links and turns them into sessions. The
// gateway's console-links route and the console-link command share it.
type Links struct {
	store Store
	now   func() time.Time
}

// NewLinks returns Links keeping its state in store, judging expiry by now
// (nil: time.Now).
func NewLinks(store Store, now func() time.Time) *Links {
	if now == nil {
		now = time.Now
	}
	return &Links{store: store, now: now}
}

// Link is a one-time sign-in link.
type Link struct {
	// Path is the link without scheme and host: SignInPath and its token.
	Path      string
	ExpiresAt time.Time
}

// Issue makes a sign-in link for a session of the manufacturer, or, for "",
// a platform operator's session over every manufacturer. The manufacturer
// must exist. Only the token's hash is stored.
func (l *Links) Issue(ctx context.Context, manufacturerID string) (*Link, error) {
	if manufacturerID != "" {
		if _, err := l.store.GetManufacturer(ctx, manufacturerID); err != nil {
			return nil, fmt.Errorf("issuing a console link: %w", err)
		}
	}
	token := rand.Text()
	expires := l.now().Add(LinkTTL)
	if err := l.store.CreateConsoleLink(ctx, hash(token), manufacturerID, expires); err != nil {
		return nil, err
	}
	return &Link{Path: SignInPath + "?token=" + token, ExpiresAt: expires}, nil
}

// signIn uses the link of token, once, and starts a session; it returns the
// session's token, for the cookie.
func (l *Links) signIn(ctx context.Context, token string) (string, *callout.ConsoleSession, error) {
	now := l.now()
	m, err := l.store.UseConsoleLink(ctx, hash(token), now)
	if err != nil {
		return "", nil, fmt.Errorf("signing in: %w", err)
	}
	sess := &callout.ConsoleSession{ManufacturerID: m, ExpiresAt: now.Add(SessionTTL)}
	st := rand.Text()
	if err := l.store.CreateConsoleSession(ctx, hash(st), *sess); err != nil {
		return "", nil, fmt.Errorf("signing in: %w", err)
	}
	return st, sess, nil
}

// session returns the live session of a session token.
func (l *Links) session(ctx context.Context, token string) (*callout.ConsoleSession, error) {
	return l.store.GetConsoleSession(ctx, hash(token), l.now())
}

// signOut ends the session of token.
func (l *Links) signOut(ctx context.Context, token string) error {
	return l.store.DeleteConsoleSession(ctx, hash(token))
}

// hash is how a token is stored: a copy of the database holds no usable
// token.
func hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// csrfToken is the token the forms of a session carry. It is derived from
// the session's token, which only the HttpOnly cookie holds, so a page of
// another site can neither read nor compute it.
func csrfToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("callout-console-csrf\x00" + sessionToken))
	return hex.EncodeToString(sum[:16])
}
