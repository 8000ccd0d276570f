package answer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/callout/callout"
)

// MaxMessages is how many messages of one answer's "errors", and of its
// "message", Read keeps; the rest are dropped with a warning.
const MaxMessages = 50

// texts normalises the "errors" or "message" member of an answer, named field,
// into at most MaxMessages strings of at most callout.MaxMessageLength
// characters, and returns warnings for what it had to change.
//
// A string is one message and an array holds one message per element. Inside
// an array, strings are kept as they are, numbers and booleans become their
// JSON text, objects and arrays their compact JSON text, and null and "" are
// dropped. A member that is itself a number, boolean or object is read as a
// one-element array (the manufacturer clearly meant to say something, and its
// text beats the generic message), with a warning; null is no message at all.
func texts(field string, raw json.RawMessage) (msgs, warnings []string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' {
		return nil, nil
	}
	var items []json.RawMessage
	switch raw[0] {
	case '[':
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, []string{fmt.Sprintf("%s could not be read: %v", field, err)}
		}
	case '"':
		items = []json.RawMessage{raw}
	default:
		items = []json.RawMessage{raw}
		warnings = append(warnings, fmt.Sprintf("%s is %s, not a string or an array; read as one message", field, kindOf(raw)))
	}
	dropped, shortened := 0, 0
	for _, item := range items {
		if len(msgs) == MaxMessages {
			// Past the limit only count, without building strings.
			if s := string(bytes.TrimSpace(item)); s != "null" && s != `""` {
				dropped++
			}
			continue
		}
		s, ok := text(item)
		if !ok {
			continue
		}
		if utf8.RuneCountInString(s) > callout.MaxMessageLength {
			s = cutRunes(s, callout.MaxMessageLength)
			shortened++
		}
		msgs = append(msgs, s)
	}
	if shortened > 0 {
		warnings = append(warnings, fmt.Sprintf("%s: %d %s longer than %d characters shortened", field, shortened, plural(shortened, "message", "messages"), callout.MaxMessageLength))
	}
	if dropped > 0 {
		warnings = append(warnings, fmt.Sprintf("%s: %d %s after the first %d dropped", field, dropped, plural(dropped, "message", "messages"), MaxMessages))
	}
	return msgs, warnings
}

// text is the message text of one JSON value, and false for null and "".
func text(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case 'n':
		return "", false
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return "", false
		}
		return s, true
	case '[', '{':
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return "", false
		}
		return b.String(), true
	}
	// Numbers and booleans: their JSON text, as written.
	return string(raw), true
}

// cutRunes returns the first n runes of s.
func cutRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// plural picks the singular or plural form for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
