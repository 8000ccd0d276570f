package gateway

import (
	"net/http"

	"github.com/callout/callout"
	"github.com/callout/callout/submission"
)

// Replies writes the answers to submits, which submission keeps and replays
// byte for byte: it renders them here, in the one presenter, once.
type Replies struct{}

var _ submission.Replies = Replies{}

// Submitted is the 200 answer to an accepted submission.
func (Replies) Submitted(job *callout.Job, externalID string, messages []string) (callout.Response, error) {
	if messages == nil {
		messages = []string{}
	}
	var id *string
	if externalID != "" {
		id = &externalID
	}
	body, err := callout.MarshalJSON(struct {
		Submitted  bool         `json:"submitted"`
		ExternalID *string      `json:"external_id"`
		Messages   []string     `json:"messages"`
		Job        *callout.Job `json:"job"`
	}{true, id, messages, job})
	if err != nil {
		return callout.Response{}, err
	}
	return callout.Response{Status: http.StatusOK, Body: body}, nil
}

// Failed is the problem document of a failed submission.
func (Replies) Failed(err error) callout.Response {
	p, body := problemResponse(err)
	return callout.Response{Status: p.Status, Body: body}
}
