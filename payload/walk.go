package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The XML and CSV renderings walk the export in place: it is validated once,
// then its objects and arrays are split into sub-slices of it by the functions
// below, which may therefore assume valid JSON. Member order and number
// literals come out as written, and nothing is copied but the values written
// out.

// maxDepth bounds the nesting of an export rendered as XML or CSV. Rendering
// recurses once per level, and a 16 MiB export of '[' must not exhaust the
// stack; real exports nest a handful of levels.
const maxDepth = 512

// errTooDeep is returned for an export nested deeper than maxDepth.
var errTooDeep = fmt.Errorf("the export nests deeper than %d levels", maxDepth)

// errNotArray is returned when JobRooms or JobCabinets is not an array.
var errNotArray = errors.New("not a JSON array")

// validate checks that export is valid JSON and an object, returning a
// *json.SyntaxError, which says where, when it is not JSON.
func validate(export []byte) error {
	if !json.Valid(export) {
		var v any
		if err := json.Unmarshal(export, &v); err != nil {
			return err
		}
		return errors.New("the export is not valid JSON")
	}
	if t := bytes.TrimSpace(export); t[0] != '{' {
		return ErrNotObject
	}
	return nil
}

// eachMember calls fn with each member of the JSON object doc, in order. doc
// must be valid JSON.
func eachMember(doc []byte, fn func(key string, v []byte) error) error {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || doc[0] != '{' {
		return ErrNotObject
	}
	i := skipSpace(doc, 1)
	for doc[i] != '}' {
		end := skipString(doc, i)
		key, err := decodeString(doc[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(doc, skipSpace(doc, end)+1) // past the ':'
		end = skipValue(doc, i)
		if err := fn(key, doc[i:end]); err != nil {
			return err
		}
		if i = skipSpace(doc, end); doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
	}
	return nil
}

// eachValue calls fn with each entry of the JSON array doc, in order. doc must
// be valid JSON and an array.
func eachValue(doc []byte, fn func(i int, v []byte) error) error {
	doc = bytes.TrimSpace(doc)
	i := skipSpace(doc, 1)
	for n := 0; doc[i] != ']'; n++ {
		end := skipValue(doc, i)
		if err := fn(n, doc[i:end]); err != nil {
			return err
		}
		if i = skipSpace(doc, end); doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
	}
	return nil
}

// eachItem calls fn with each entry of the JSON array doc, which must hold
// objects. A null doc has no entries. Errors name the array by path. doc must
// be valid JSON.
func eachItem(doc []byte, path string, fn func(i int, v []byte) error) error {
	doc = bytes.TrimSpace(doc)
	if bytes.Equal(doc, jsonNull) {
		return nil
	}
	if len(doc) == 0 || doc[0] != '[' {
		return fmt.Errorf("%s: %w", path, errNotArray)
	}
	return eachValue(doc, func(n int, v []byte) error {
		if v[0] != '{' {
			return fmt.Errorf("%s[%d]: %w", path, n, ErrNotObject)
		}
		return fn(n, v)
	})
}

// isEmpty reports whether the object or array v has no entries.
func isEmpty(v []byte) bool {
	i := skipSpace(v, 1)
	return i < len(v) && (v[i] == '}' || v[i] == ']')
}

// skipSpace returns the index of the first non-space byte of b from i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just after the JSON string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index just after the JSON value starting at b[i],
// without recursion however deep it nests.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// decodeString returns the text of the JSON string s. Strings without escapes,
// the vast majority, are converted directly; invalid UTF-8 becomes U+FFFD
// either way, as encoding/json does.
func decodeString(s []byte) (string, error) {
	if len(s) >= 2 && bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s[1 : len(s)-1]), nil
	}
	var v string
	err := json.Unmarshal(s, &v)
	return v, err
}
