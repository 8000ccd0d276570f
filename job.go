package callout

import (
	"bytes"
	"encoding/json"
	"time"
)

// JobStatus is the state Callout owns of a job.
type JobStatus string

// A job is processing until a submission is accepted.
const (
	JobProcessing JobStatus = "processing"
	JobSubmitted  JobStatus = "submitted"
)

// Customer is a manufacturer's customer, stored as the platform's customer
// document, byte for byte.
type Customer struct {
	ID             string
	ManufacturerID string
	Document       json.RawMessage
	UpdatedAt      time.Time
}

// Job is an order being prepared: the platform's job document and export,
// stored byte for byte, plus the state Callout owns.
type Job struct {
	ID             string
	ManufacturerID string
	CustomerID     string
	Status         JobStatus
	SubmittedAt    *time.Time
	ExternalID     string // "" when the manufacturer gave none
	Messages       []Message
	Pricing        *Pricing
	// Revision counts replacements of the documents. It keys pricing caches and
	// the outbound Idempotency-Key, so a changed job is a new submission.
	Revision  int64
	UpdatedAt time.Time
	Document  json.RawMessage // the job document as the platform last stored it
	Export    json.RawMessage // the JSON export as the platform last stored it
}

// MarshalJSON writes the job resource: Callout's state of the job, without the
// documents.
func (j *Job) MarshalJSON() ([]byte, error) {
	var externalID *string
	if j.ExternalID != "" {
		externalID = &j.ExternalID
	}
	messages := j.Messages
	if messages == nil {
		messages = []Message{}
	}
	return MarshalJSON(struct {
		ID             string     `json:"id"`
		ManufacturerID string     `json:"manufacturer_id"`
		CustomerID     string     `json:"customer_id"`
		Status         JobStatus  `json:"status"`
		SubmittedAt    *time.Time `json:"submitted_at"`
		ExternalID     *string    `json:"external_id"`
		Messages       []Message  `json:"messages"`
		Pricing        *Pricing   `json:"pricing"`
		Revision       int64      `json:"revision"`
		UpdatedAt      time.Time  `json:"updated_at"`
	}{j.ID, j.ManufacturerID, j.CustomerID, j.Status, j.SubmittedAt, externalID, messages, j.Pricing, j.Revision, j.UpdatedAt})
}

// Message is a message a manufacturer's webhook returned, saved on a job.
type Message struct {
	Text   string    `json:"text"`
	Source Kind      `json:"source"`
	At     time.Time `json:"at"`
}

// PricingSource says where a job's pricing came from.
type PricingSource string

// Pricing comes from the manufacturer's webhook, or from the job document's
// own cost when no pricing webhook is enabled.
const (
	PricingWebhook PricingSource = "webhook"
	PricingBuiltin PricingSource = "builtin"
)

// Pricing is a job's price as last computed.
type Pricing struct {
	// Cost is kept exactly as the manufacturer wrote it: 1234.56 never becomes
	// 1234.5599999.
	Cost      json.Number     `json:"cost"`
	Messages  []string        `json:"messages"`
	Breakdown []BreakdownNode `json:"breakdown"`
	Source    PricingSource   `json:"source"`
	PricedAt  time.Time       `json:"priced_at"`
	// Revision is the job revision this pricing is for.
	Revision int64 `json:"-"`
}

// BreakdownNode is one line of a pricing breakdown tree. Normalised nodes
// always carry Name, Collapse and Items (possibly empty), and Cost when given.
type BreakdownNode struct {
	Name     string          `json:"name"`
	Cost     json.Number     `json:"cost,omitempty"`
	Collapse bool            `json:"collapse"`
	Items    []BreakdownNode `json:"items"`
}

// MarshalJSON encodes v as JSON without HTML escaping and without a trailing
// newline. Callout's documents and answers are encoded with it: customers'
// messages are shown as written, and an outer encoder does not undo the
// escaping of a value's own MarshalJSON.
func MarshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
