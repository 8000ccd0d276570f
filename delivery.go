package callout

import (
	"encoding/json"
	"time"
)

// ResponseBodyLimit is how much of a webhook's answer a delivery keeps.
const ResponseBodyLimit = 4 << 10

// Delivery is the stored record of one callout. It never holds a secret.
type Delivery struct {
	ID             string    `json:"id"`
	ManufacturerID string    `json:"manufacturer_id"`
	Kind           Kind      `json:"kind"`
	JobID          string    `json:"job_id"` // "" (null in JSON) for a test callout with a sample job
	RequestID      string    `json:"request_id"`
	Test           bool      `json:"test"`
	URL            string    `json:"url"`
	StartedAt      time.Time `json:"started_at"`
	FinishedAt     time.Time `json:"finished_at"`
	DurationMS     float64   `json:"duration_ms"`
	Attempts       int       `json:"attempts"`
	HTTPStatus     int       `json:"http_status"` // 0 when no answer came
	Outcome        Outcome   `json:"outcome"`
	Warnings       []string  `json:"warnings"`
	ErrorDetail    string    `json:"error_detail"`
	Messages       []string  `json:"messages"`      // the normalised errors or messages
	ExternalID     string    `json:"external_id"`   // submission: the id the manufacturer gave; "" (null in JSON) for none
	Cost           string    `json:"cost"`          // pricing: the cost as written, a JSON number; "" (null in JSON) for none
	ResponseBody   string    `json:"response_body"` // the first ResponseBodyLimit bytes
}

// deliveryJSON is a Delivery as the API shows it: what is absent is null,
// and the cost is a number, as everywhere else in the API. Its fields
// shadow the Delivery's of the same JSON name.
type deliveryJSON struct {
	plainDelivery
	JobID      *string      `json:"job_id"`
	ExternalID *string      `json:"external_id"`
	Cost       *json.Number `json:"cost"`
}

// plainDelivery is Delivery without its JSON methods.
type plainDelivery Delivery

// MarshalJSON writes the delivery with null for an absent job id, external
// id or cost, and the cost as a number. It encodes with the package's
// MarshalJSON, without HTML escaping, as every answer of the API is: an
// outer encoder would not undo the escaping of json.Marshal here.
func (d Delivery) MarshalJSON() ([]byte, error) {
	v := deliveryJSON{plainDelivery: plainDelivery(d)}
	if d.JobID != "" {
		v.JobID = &d.JobID
	}
	if d.ExternalID != "" {
		v.ExternalID = &d.ExternalID
	}
	if d.Cost != "" {
		c := json.Number(d.Cost)
		v.Cost = &c
	}
	return MarshalJSON(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Delivery) UnmarshalJSON(data []byte) error {
	var v deliveryJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*d = Delivery(v.plainDelivery)
	if v.JobID != nil {
		d.JobID = *v.JobID
	}
	if v.ExternalID != nil {
		d.ExternalID = *v.ExternalID
	}
	if v.Cost != nil {
		d.Cost = v.Cost.String()
	}
	return nil
}

// Kept reports whether the delivery is stored. A callout the circuit breaker
// refused sent nothing to the manufacturer: it is counted in the metrics and
// logged, not stored, so that a failing webhook's open breaker does not turn
// every refused callout into a database write.
func (d *Delivery) Kept() bool { return d.Outcome != OutcomeCircuitOpen }

// Page sizes of a delivery list.
const (
	DefaultDeliveryLimit = 50
	MaxDeliveryLimit     = 200
)

// DeliveryFilter selects deliveries of one manufacturer, newest first.
type DeliveryFilter struct {
	ManufacturerID string
	Kind           Kind    // "" for any
	JobID          string  // "" for any
	Outcome        Outcome // "" for any
	Limit          int
	Cursor         string // opaque; "" for the first page
}
