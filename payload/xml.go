package payload

import (
	"bytes"
	"unicode/utf8"
)

// renderXML renders a JSON export object as an XML document. The mapping,
// which the README documents for manufacturers:
//
//   - The document starts with <?xml version="1.0" encoding="UTF-8"?> and its
//     root element is <export>. Elements are indented by two spaces, one per
//     line; no element holds both text and elements, so the indentation is
//     never part of a value.
//   - Each member of an object becomes an element, in the export's member
//     order. Its name is the member's key when that is a valid, portable XML
//     name. Otherwise the name is converted: every character other than an
//     ASCII letter, digit, '_', '-' or '.' becomes '_'; a name that does not
//     then start with a letter or '_' (a digit, '-' or '.'), and a name
//     starting with "xml" in any case (reserved by XML), is prefixed with '_';
//     the empty key becomes "_". A converted element carries the original key
//     in a key attribute: "Manufacturer Name" becomes
//     <Manufacturer_Name key="Manufacturer Name">. Two keys may convert to the
//     same name; the key attribute tells them apart.
//   - An object becomes an element holding one element per member.
//   - An array becomes an element holding one <item> element per entry, each
//     rendered by these same rules (an array of arrays nests <item> in <item>).
//   - A string becomes the element's text, escaped: &amp; &lt; &gt;, and a
//     carriage return as &#xD; so that XML's line-end normalisation does not
//     turn it into a line feed. Characters XML 1.0 cannot carry (control
//     characters other than tab, line feed and carriage return, U+FFFE, U+FFFF)
//     become U+FFFD.
//   - A number becomes its text exactly as written in the export (332.96 stays
//     332.96, 1e3 stays 1e3); true and false become the text true and false.
//   - null becomes an empty element with nil="true": <DateDue nil="true"/>.
//   - Empty values are told apart by their form: an empty string is
//     <Description></Description>, an empty object or array is <JobSundries/>.
func renderXML(export []byte) ([]byte, error) {
	if err := validate(export); err != nil {
		return nil, err
	}
	x := &xmlWriter{
		buf: make([]byte, 0, len(export)+len(export)/2+64),
	}
	x.buf = append(x.buf, `<?xml version="1.0" encoding="UTF-8"?>`...)
	if err := x.element(xmlElementName{name: "export"}, bytes.TrimSpace(export), 0); err != nil {
		return nil, err
	}
	return append(x.buf, '\n'), nil
}

// xmlElementName is the element name of a key, and the key attribute to write
// when the name differs from the key (keyed).
type xmlElementName struct {
	name, key string
	keyed     bool
}

// xmlWriter appends the XML rendering of JSON values.
type xmlWriter struct {
	buf []byte
}

// element writes the JSON value v, which must be valid, as the element n.
func (x *xmlWriter) element(n xmlElementName, v []byte, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	x.indent(depth)
	x.buf = append(x.buf, '<')
	x.buf = append(x.buf, n.name...)
	if n.keyed {
		x.buf = append(x.buf, ` key="`...)
		x.buf = appendXMLEscaped(x.buf, n.key, true)
		x.buf = append(x.buf, '"')
	}
	switch v[0] {
	case '{', '[':
		if isEmpty(v) {
			x.buf = append(x.buf, '/', '>')
			return nil
		}
		x.buf = append(x.buf, '>')
		var err error
		if v[0] == '{' {
			err = eachMember(v, func(key string, mv []byte) error {
				return x.element(name(key), mv, depth+1)
			})
		} else {
			err = eachValue(v, func(_ int, iv []byte) error {
				return x.element(xmlElementName{name: "item"}, iv, depth+1)
			})
		}
		if err != nil {
			return err
		}
		x.indent(depth)
	case '"':
		s, err := decodeString(v)
		if err != nil {
			return err
		}
		x.buf = append(x.buf, '>')
		x.buf = appendXMLEscaped(x.buf, s, false)
	case 'n':
		x.buf = append(x.buf, ` nil="true"/>`...)
		return nil
	default:
		// A number, true or false: its text as written.
		x.buf = append(x.buf, '>')
		x.buf = append(x.buf, v...)
	}
	x.buf = append(x.buf, '<', '/')
	x.buf = append(x.buf, n.name...)
	x.buf = append(x.buf, '>')
	return nil
}

// name returns the element name of key. Keys that are valid names, nearly
// all of them, come back as they are, without allocating.
func name(key string) xmlElementName {
	n := xmlElementName{name: xmlName(key), key: key}
	n.keyed = n.name != key
	return n
}

// indent starts a line for an element at depth.
func (x *xmlWriter) indent(depth int) {
	x.buf = append(x.buf, '\n')
	for range depth {
		x.buf = append(x.buf, ' ', ' ')
	}
}

// xmlName converts a JSON key into a valid XML element name by the rules in
// renderXML's doc comment. Names are limited to ASCII so that every XML
// parser, whichever edition of the XML name rules it follows, accepts them;
// the key attribute keeps the original.
func xmlName(key string) string {
	if key == "" {
		return "_"
	}
	valid := true
	for i := 0; i < len(key); i++ {
		if !isXMLNameByte(key[i]) {
			valid = false
			break
		}
	}
	if valid && isXMLNameStart(key[0]) && !hasXMLPrefix(key) {
		return key
	}
	b := make([]byte, 0, len(key)+1)
	for _, r := range key {
		if r < utf8.RuneSelf && isXMLNameByte(byte(r)) {
			b = append(b, byte(r))
		} else {
			b = append(b, '_')
		}
	}
	if !isXMLNameStart(b[0]) || hasXMLPrefix(string(b)) {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

func isXMLNameStart(c byte) bool {
	return c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

func isXMLNameByte(c byte) bool {
	return isXMLNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// hasXMLPrefix reports whether name starts with "xml" in any case, which XML
// reserves.
func hasXMLPrefix(name string) bool {
	return len(name) >= 3 &&
		(name[0]|0x20) == 'x' && (name[1]|0x20) == 'm' && (name[2]|0x20) == 'l'
}

// appendXMLEscaped appends s escaped as XML text, or as an attribute value
// (quoted with ") when attr is set. Characters XML 1.0 cannot carry become
// U+FFFD.
func appendXMLEscaped(dst []byte, s string, attr bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		var esc string
		switch {
		case r == '&':
			esc = "&amp;"
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '"' && attr:
			esc = "&quot;"
		case r == '\r':
			esc = "&#xD;"
		case r == '\n' && attr:
			esc = "&#xA;"
		case r == '\t' && attr:
			esc = "&#x9;"
		case !isXMLChar(r) || r == utf8.RuneError && size == 1:
			esc = "\uFFFD"
		default:
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, esc...)
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// isXMLChar reports whether r is a character of XML 1.0's Char production.
func isXMLChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	case r < 0x10000:
		return false
	}
	return r <= 0x10FFFF
}
