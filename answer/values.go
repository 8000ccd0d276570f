package answer

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/callout/callout"
)

// MaxExternalIDLength is the longest external id, in characters, that Read
// keeps. A longer one is ignored with a warning rather than cut, because a cut
// id would name another order, or none, in the manufacturer's system.
const MaxExternalIDLength = 255

// truthy reads a JSON value the way PHP does, with one safety exception: the
// string "false" in any case is falsy too. Falsy are false, null, numeric zero
// (0, -0, 0.0, 0e5 …), "", "0", "false", [] and {}; everything else is truthy.
// The raw value must be valid JSON.
func truthy(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case 'n', 'f':
		return false
	case 't':
		return true
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return true
		}
		return s != "" && s != "0" && !strings.EqualFold(s, "false")
	case '[', '{':
		// Empty when nothing but whitespace lies between the brackets.
		return len(raw) < 2 || len(bytes.TrimSpace(raw[1:len(raw)-1])) > 0
	}
	return !isZeroNumber(string(raw))
}

// isZeroNumber reports whether the JSON number s is zero: every digit of its
// mantissa is 0, whatever its sign and exponent. It reads the digits rather
// than parsing a float so that 1e-400, which is not zero, stays truthy.
func isZeroNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'e' || c == 'E':
			return true
		case c >= '1' && c <= '9':
			return false
		}
	}
	return true
}

// ParseCost reads a cost: a JSON number, or a JSON string holding a decimal
// number. It returns the number's text exactly as written (for a string,
// without its quotes), so that 1234.56 never becomes 1234.5599999, and false
// for anything else, including "", null, NaN, booleans, arrays and objects.
//
// A string must hold a number in JSON's own grammar (optional minus sign,
// digits without leading zeros, optional fraction, optional exponent: "-5",
// "332.96", "1e3"), because the cost is written out again as a JSON number;
// "+5", ".5", "5." and " 5" are not usable. Nor is a number beyond the finite
// range of a float64 (1e400, -1e400), which JavaScript and most JSON readers
// would read as Infinity. A tiny one (1e-400) is kept: it reads as 0.
func ParseCost(raw json.RawMessage) (json.Number, bool) {
	n, ok := costText(raw)
	if !ok || !finite(n) {
		return "", false
	}
	return n, true
}

// costText reads a number in JSON's grammar, bare or in a JSON string,
// whatever its size.
func costText(raw json.RawMessage) (json.Number, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	if raw[0] != '"' {
		if !isJSONNumber(string(raw)) {
			return "", false
		}
		return json.Number(raw), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || !isJSONNumber(s) {
		return "", false
	}
	return json.Number(s), true
}

// finite reports whether the JSON number n is within the finite range of a
// float64.
func finite(n json.Number) bool {
	_, err := strconv.ParseFloat(string(n), 64)
	return !errors.Is(err, strconv.ErrRange)
}

// unusableCost says why raw, which ParseCost refused, is not a usable cost,
// for an administrator.
func unusableCost(raw json.RawMessage) string {
	if n, ok := costText(raw); ok {
		return "cost " + callout.Truncate(string(n), 40) + " is beyond the range of a finite number (about ±1.8e308)"
	}
	what := kindOf(raw)
	if what == "a JSON string" {
		what = "a JSON string that does not hold a decimal number"
	}
	return "cost is " + what
}

// isJSONNumber reports whether s is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		j := skipDigits(s, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

// skipDigits returns the index of the first non-digit of s at or after i.
func skipDigits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// maxExponent bounds the exponents integerText works with, far beyond any id.
const maxExponent = 1 << 20

// integerText returns the plain decimal text of the JSON number s when its
// value is an integer of at most MaxExternalIDLength digits: 1.23456e5 becomes
// "123456", 100e-2 becomes "1", -0 becomes "0". It works on the digits, never
// on a float, so no precision is lost.
func integerText(s string) (string, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > maxExponent || e < -maxExponent {
			return "", false
		}
		mant, exp = s[:i], e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := intPart + frac
	point := len(intPart) + exp // where the decimal point falls in digits
	trimmed := strings.TrimLeft(digits, "0")
	point -= len(digits) - len(trimmed)
	digits = trimmed
	if digits == "" {
		return "0", true
	}
	if point <= 0 || point > MaxExternalIDLength {
		// A non-zero value below 1, or an integer too long to be an id.
		return "", false
	}
	var whole string
	if point <= len(digits) {
		if strings.Trim(digits[point:], "0") != "" {
			return "", false
		}
		whole = digits[:point]
	} else {
		whole = digits + strings.Repeat("0", point-len(digits))
	}
	if neg {
		whole = "-" + whole
	}
	return whole, true
}

// externalID reads a submission's "id": a string as it is, or a number as its
// decimal text when it is an integer and as written otherwise. It returns ""
// and no warning for an absent, null or empty id, and "" with a warning for
// any other type or an id longer than MaxExternalIDLength characters.
func externalID(raw json.RawMessage) (id, warning string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", ""
	}
	switch raw[0] {
	case 'n':
		return "", ""
	case '"':
		if json.Unmarshal(raw, &id) != nil {
			return "", "the id could not be read; ignored"
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		lit := string(raw)
		if whole, ok := integerText(lit); ok {
			id = whole
		} else {
			id = lit
		}
	default:
		return "", "the id is " + kindOf(raw) + ", not a string or a number; ignored"
	}
	if n := utf8.RuneCountInString(id); n > MaxExternalIDLength {
		return "", "the id has " + strconv.Itoa(n) + " characters, more than " + strconv.Itoa(MaxExternalIDLength) + "; ignored"
	}
	return id, ""
}
