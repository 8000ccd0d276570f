// Package payload builds the body Callout posts to a manufacturer's webhook:
// {"export": …, "job": …, "customer": …}, each document exactly as the
// platform stored it (docs/manufacturers.md, "The request").
//
// With the json export format the three documents go out byte for byte as
// they came in: member order, key spelling, spacing and number literals are
// never touched, because the body is assembled from the stored slices rather
// than re-encoded. With xml and csv the export member is a JSON string holding
// the export rendered in that format (see the doc comments in xml.go and
// csv.go for the mappings).
package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/callout/callout"
)

// ErrNotObject is wrapped by the error Build returns when the export or job is
// not a JSON object, or the customer is neither an object nor null.
var ErrNotObject = errors.New("not a JSON object")

// ErrUnknownFormat is wrapped by the error Build returns for an export format
// it does not know.
var ErrUnknownFormat = errors.New("unknown export format")

// Body is an outbound payload. It is assembled from the stored documents
// without copying them, and can be read any number of times (for retries and
// for signing). The documents given to Build must not be modified while the
// Body is in use. A Body is safe for concurrent use.
type Body struct {
	parts [][]byte
	n     int64
}

// The fixed pieces of the envelope. Written without spaces so that the only
// whitespace in the body is the documents' own.
var (
	openExport    = []byte(`{"export":`)
	openJob       = []byte(`,"job":`)
	openCustomer  = []byte(`,"customer":`)
	closeEnvelope = []byte(`}`)
	jsonNull      = []byte(`null`)
)

// Build returns the payload for the given documents, rendering the export in
// format. The export and job must be JSON objects; the customer may be nil,
// empty or null, which is sent as null. The empty format means json, a
// webhook's default.
//
// Only the leading and trailing bytes of the documents are checked (they were
// validated when stored); with xml and csv the export is parsed in full to be
// rendered, and Build fails when it cannot be rendered in that format.
func Build(format callout.ExportFormat, export, job, customer json.RawMessage) (*Body, error) {
	if err := checkObject(export); err != nil {
		return nil, fmt.Errorf("payload: export: %w", err)
	}
	if err := checkObject(job); err != nil {
		return nil, fmt.Errorf("payload: job: %w", err)
	}
	cust := []byte(customer)
	if len(bytes.TrimSpace(cust)) == 0 {
		cust = jsonNull
	} else if !bytes.Equal(bytes.TrimSpace(cust), jsonNull) {
		if err := checkObject(cust); err != nil {
			return nil, fmt.Errorf("payload: customer: %w", err)
		}
	}

	var e []byte
	switch format {
	case callout.ExportJSON, "":
		e = export
	case callout.ExportXML:
		x, err := renderXML(export)
		if err != nil {
			return nil, fmt.Errorf("payload: rendering the export as xml: %w", err)
		}
		e = appendJSONString(make([]byte, 0, len(x)+len(x)/8+2), x)
	case callout.ExportCSV:
		c, err := renderCSV(export)
		if err != nil {
			return nil, fmt.Errorf("payload: rendering the export as csv: %w", err)
		}
		e = appendJSONString(make([]byte, 0, len(c)+len(c)/8+2), c)
	default:
		return nil, fmt.Errorf("payload: %q: %w", string(format), ErrUnknownFormat)
	}

	b := &Body{parts: [][]byte{openExport, e, openJob, job, openCustomer, cust, closeEnvelope}}
	for _, p := range b.parts {
		b.n += int64(len(p))
	}
	return b, nil
}

// checkObject reports whether doc looks like a JSON object: its first and last
// non-space bytes are braces. It is deliberately shallow, so that building a
// payload never scans a multi-megabyte document the gateway already validated.
func checkObject(doc []byte) error {
	t := bytes.TrimSpace(doc)
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' {
		return ErrNotObject
	}
	return nil
}

// Len is the body's length in bytes.
func (b *Body) Len() int64 { return b.n }

// Reader returns a new reader of the whole body, positioned at its start.
// Each call returns an independent reader.
func (b *Body) Reader() io.Reader { return &reader{parts: b.parts} }

// WriteTo writes the whole body to w. It implements io.WriterTo.
func (b *Body) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for _, p := range b.parts {
		n, err := w.Write(p)
		total += int64(n)
		if err != nil {
			return total, err
		}
		if n != len(p) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// reader reads a sequence of byte slices without copying them into one.
type reader struct {
	parts [][]byte
	off   int // offset in parts[0]
}

var _ io.WriterTo = (*reader)(nil)

// Read implements io.Reader.
func (r *reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(r.parts) > 0 {
		c := copy(p[n:], r.parts[0][r.off:])
		n += c
		r.off += c
		if r.off == len(r.parts[0]) {
			r.parts, r.off = r.parts[1:], 0
		}
	}
	if n == 0 && len(r.parts) == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// WriteTo implements io.WriterTo, so that io.Copy hands each part to w
// directly instead of through an intermediate buffer.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(r.parts) > 0 {
		p := r.parts[0][r.off:]
		n, err := w.Write(p)
		total += int64(n)
		r.off += n
		if r.off == len(r.parts[0]) {
			r.parts, r.off = r.parts[1:], 0
		}
		if err != nil {
			return total, err
		}
		if n != len(p) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// appendJSONString appends s to dst as a JSON string. Unlike encoding/json it
// does not escape <, > and &, which would only bloat an XML export; it does
// escape U+2028 and U+2029 like encoding/json, for consumers that evaluate
// JSON as JavaScript. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
