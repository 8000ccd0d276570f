package callout

import "time"

// ResponseBodyLimit is how much of a webhook's answer a delivery keeps.
const ResponseBodyLimit = 4 << 10

// Delivery is the stored record of one callout. It never holds a secret.
type Delivery struct {
	ID             string    `json:"id"`
	ManufacturerID string    `json:"manufacturer_id"`
	Kind           Kind      `json:"kind"`
	JobID          string    `json:"job_id"` // "" for a test callout with a sample job
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
	ExternalID     string    `json:"external_id"`   // submission: the id the manufacturer gave
	Cost           string    `json:"cost"`          // pricing: the cost as written
	ResponseBody   string    `json:"response_body"` // the first ResponseBodyLimit bytes
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
