package webhook

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/callout/callout"
	"github.com/callout/callout/answer"
)

// Fill writes the result into the delivery record d: timing, attempts,
// status, outcome, warnings, detail, the answer's normalised messages (its
// errors unless it was accepted), external id, cost, and the start of the
// answer's body as valid UTF-8 of at most callout.ResponseBodyLimit bytes.
// It leaves the delivery's identity (id, manufacturer, job, URL) alone.
func (r *Result) Fill(d *callout.Delivery) {
	d.StartedAt = r.StartedAt
	d.FinishedAt = r.StartedAt.Add(r.Duration)
	d.DurationMS = float64(r.Duration) / float64(time.Millisecond)
	d.Attempts = r.Attempts
	d.HTTPStatus = r.HTTPStatus
	d.Outcome = r.Outcome
	d.Warnings = append([]string{}, r.Warnings...)
	d.ErrorDetail = r.Detail
	if r.Outcome == callout.OutcomeAccepted {
		d.Messages = append([]string{}, r.Answer.Messages...)
	} else {
		d.Messages = append([]string{}, r.Answer.Errors...)
	}
	d.ExternalID = r.Answer.ExternalID
	d.Cost = string(r.Answer.Cost)
	d.ResponseBody = bodyText(r.ResponseBody, callout.ResponseBodyLimit)
}

// bodyText makes text of at most limit bytes from the start of a body: it
// stops on a rune boundary, drops a rune cut off at the end, and replaces
// invalid UTF-8 and NUL (which PostgreSQL text cannot hold) with U+FFFD.
func bodyText(b []byte, limit int) string {
	var sb strings.Builder
	sb.Grow(min(len(b), limit))
	for len(b) > 0 {
		if !utf8.FullRune(b) {
			break // cut off by an earlier truncation
		}
		r, size := utf8.DecodeRune(b)
		if r == 0 {
			r = utf8.RuneError
		}
		if sb.Len()+utf8.RuneLen(r) > limit {
			break
		}
		sb.WriteRune(r)
		b = b[size:]
	}
	return sb.String()
}

// head returns a copy of at most n bytes from the start of b, so that a
// result does not pin a large answer's buffer.
func head(b []byte, n int) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b[:min(len(b), n)])
}

// Redaction of secrets a webhook echoes back.
const (
	minRedactLength = 4
	// redactMargin is how much of the answer beyond what is kept is searched
	// for secrets, so that a secret straddling the cut is found whole.
	redactMargin = 8 << 10
)

// redact replaces every known secret in the result's text, including the
// JSON-escaped forms in which a webhook may echo it.
func redact(res *Result, body []byte, secrets []string) {
	if len(secrets) == 0 {
		res.ResponseBody = head(body, callout.ResponseBodyLimit)
		return
	}
	var forms []string
	for _, s := range secrets {
		// As written, as a JSON string holds it, and either with / escaped as
		// PHP's json_encode does.
		escaped := s
		if q, err := json.Marshal(s); err == nil {
			escaped = string(q[1 : len(q)-1])
		}
		for _, f := range []string{s, escaped} {
			forms = append(forms, f, strings.ReplaceAll(f, "/", `\/`))
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	forms = slices.Compact(forms)
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, callout.Redacted)
	}
	rp := strings.NewReplacer(pairs...)
	strs := func(ss []string) {
		for i := range ss {
			ss[i] = rp.Replace(ss[i])
		}
	}
	res.Detail = rp.Replace(res.Detail)
	strs(res.Warnings)
	a := &res.Answer
	a.Detail = rp.Replace(a.Detail)
	a.ExternalID = rp.Replace(a.ExternalID)
	strs(a.Errors)
	strs(a.Messages)
	strs(a.Warnings)
	redactBreakdown(a.Breakdown, rp)
	if len(body) > 0 {
		body = []byte(rp.Replace(string(body)))
	}
	res.ResponseBody = head(body, callout.ResponseBodyLimit)
}

func redactBreakdown(nodes []callout.BreakdownNode, rp *strings.Replacer) {
	for i := range nodes {
		nodes[i].Name = rp.Replace(nodes[i].Name)
		redactBreakdown(nodes[i].Items, rp)
	}
}

// answerDetail explains an interpreted answer to an administrator: the status,
// then the reader's explanation (which never repeats the status).
func answerDetail(status int, ans answer.Answer) string {
	switch {
	case ans.Outcome == callout.OutcomeAccepted:
		return ""
	case ans.Detail != "":
		return fmt.Sprintf("HTTP %d: %s", status, ans.Detail)
	case ans.Outcome == callout.OutcomeRejected:
		return fmt.Sprintf("HTTP %d: the manufacturer declined", status)
	}
	return fmt.Sprintf("HTTP %d", status)
}

// redirectDetail names a redirect's target without credentials.
func redirectDetail(location string) string {
	if location == "" {
		return "a redirect without a Location is not followed"
	}
	if u, err := url.Parse(location); err == nil {
		u.User = nil
		location = u.String()
	}
	return fmt.Sprintf("redirect to %s not followed", callout.Truncate(location, 300))
}

// byteSize writes a size for people.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// describe explains a transport failure to an administrator. It never uses
// the request URL, which may carry a token in its query.
func describe(err error, status int) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if status != 0 {
		return fmt.Sprintf("HTTP %d: the connection failed while the answer's body was arriving: %v", status, err)
	}
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
		opErr   *net.OpError
	)
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("DNS: no such host %s", dnsErr.Name)
		}
		return fmt.Sprintf("DNS lookup of %s failed: %s", dnsErr.Name, dnsErr.Err)
	case errors.As(err, &certErr):
		return fmt.Sprintf("TLS: the server's certificate was not accepted: %v", certErr.Err)
	case errors.As(err, &recErr):
		return "TLS: the server did not answer with TLS (does it serve plain http?)"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		if opErr.Addr != nil {
			return fmt.Sprintf("could not connect to %s: %v", opErr.Addr, opErr.Err)
		}
		return fmt.Sprintf("could not connect: %v", opErr.Err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "the connection was closed before an answer came"
	}
	return fmt.Sprintf("the request failed: %v", err)
}

// neverSent reports whether err shows that the request certainly never
// reached the webhook: the connection could not be made.
func neverSent(err error) bool {
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "dial" || errors.Is(err, ErrBlocked) {
		return false
	}
	// A name that does not exist will not exist a moment later either.
	var dnsErr *net.DNSError
	return !errors.As(err, &dnsErr) || !dnsErr.IsNotFound
}
