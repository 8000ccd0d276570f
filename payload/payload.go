// Package payload builds the body Callout posts to a manufacturer's webhook:
// {"export": …, "job": …, "customer": …}, each document exactly as the
// platform stored it (SPEC §2).
package payload

import (
	"encoding/json"
	"io"

	"github.com/callout/callout"
)

// Body is an outbound payload. It is assembled from the stored documents
// without copying them, and can be read any number of times (for retries and
// for signing).
type Body struct {
	parts [][]byte
	n     int64
}

// Build returns the payload for the given documents, rendering the export in
// format. It fails when the export cannot be rendered in that format.
func Build(format callout.ExportFormat, export, job, customer json.RawMessage) (*Body, error) {
	panic("not implemented")
}

// Len is the body's length in bytes.
func (b *Body) Len() int64 { return b.n }

// Reader returns a new reader of the whole body.
func (b *Body) Reader() io.Reader { panic("not implemented") }
