// Package callout holds Callout's domain: manufacturers, webhooks, customers,
// jobs, deliveries, the outcome of a callout, and the one error type every
// package returns. It imports no framework and no database driver; the
// packages that do (gateway, store) depend on it, never the other way round.
package callout

import (
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"
)

// Kind is the purpose of a webhook: submitting a job or pricing it.
type Kind string

// The two kinds of synchronous webhook.
const (
	KindSubmission Kind = "submission"
	KindPricing    Kind = "pricing"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool { return k == KindSubmission || k == KindPricing }

// idPattern is the shape of every id a caller chooses: manufacturers,
// customers and jobs.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidID reports whether id matches the id pattern [A-Za-z0-9._-]{1,64}
// and is not "." or "..", which clients that normalise URLs cannot address.
func ValidID(id string) bool { return id != "." && id != ".." && idPattern.MatchString(id) }

// CheckID returns a validation_failed error naming field when id is not a
// valid id.
func CheckID(field, id string) error {
	if ValidID(id) {
		return nil
	}
	return Invalid(FieldError{Field: field, Message: fmt.Sprintf("%q is not a valid id: use 1 to 64 letters, digits, '.', '_' or '-' (but not . or .. alone)", Truncate(id, 80))})
}

// Redacted stands in for a secret wherever one would otherwise be shown.
const Redacted = "[redacted]"

// Truncate shortens s to at most n characters (runes) for use inside a
// message, the last of them an ellipsis when it was cut; it never splits a
// character.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n - 1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// Manufacturer is a tenant: everything else belongs to exactly one.
type Manufacturer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}
