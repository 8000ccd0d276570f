package webhook

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"encoding/base64"
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

// redact replaces every known secret in the result's text, in each form in
// which a webhook may echo it (echoForms), and a hex secret in any case.
func redact(res *Result, body []byte, secrets []string) {
	if len(secrets) == 0 {
		res.ResponseBody = head(body, callout.ResponseBodyLimit)
		return
	}
	rd := newRedactor(secrets)
	strs := func(ss []string) {
		for i := range ss {
			ss[i] = rd.replace(ss[i])
		}
	}
	res.Detail = rd.replace(res.Detail)
	strs(res.Warnings)
	a := &res.Answer
	a.Detail = rd.replace(a.Detail)
	a.ExternalID = rd.replace(a.ExternalID)
	strs(a.Errors)
	strs(a.Messages)
	strs(a.Warnings)
	redactBreakdown(a.Breakdown, rd)
	if len(body) > 0 {
		body = []byte(rd.replace(string(body)))
	}
	res.ResponseBody = head(body, callout.ResponseBodyLimit)
}

// redactor replaces the forms of a callout's secrets.
type redactor struct {
	// forms are the forms of every secret, longest first, so that a secret
	// containing another is replaced whole.
	forms []string
	// hex are the secrets made of hex digits, in lower case: a webhook may
	// echo them in another case.
	hex []string
}

func newRedactor(secrets []string) *redactor {
	rd := &redactor{}
	for _, s := range secrets {
		rd.forms = append(rd.forms, echoForms(s)...)
		if isHex(s) {
			rd.hex = append(rd.hex, asciiLower(s))
		}
	}
	// Equal lengths are ordered by text, so that Compact meets every
	// duplicate next to its twin.
	byLength := func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) }
	slices.SortFunc(rd.forms, byLength)
	rd.forms = slices.Compact(rd.forms)
	slices.SortFunc(rd.hex, byLength)
	return rd
}

// echoForms are the forms in which a webhook may echo s: as written,
// URL-encoded for a query or a path, or in standard or URL-safe base64,
// padded or not; each also as a JSON string holds it, with or without
// HTML-escaping, and with / escaped too, as PHP's json_encode does.
func echoForms(s string) []string {
	b := []byte(s)
	var forms []string
	for _, e := range []string{
		s, url.QueryEscape(s), url.PathEscape(s),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
	} {
		for _, f := range []string{e, jsonEscape(e, true), jsonEscape(e, false)} {
			forms = append(forms, f)
			if strings.Contains(f, "/") {
				forms = append(forms, strings.ReplaceAll(f, "/", `\/`))
			}
		}
	}
	return forms
}

// jsonEscape is s as the inside of a JSON string.
func jsonEscape(s string, escapeHTML bool) string {
	// Most secrets and all their base64 forms hold no byte that JSON
	// escapes: they are returned without building an encoder each.
	if !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r >= 0x80 || strings.ContainsRune(`"\<>&`, r)
	}) {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if enc.Encode(s) != nil {
		return s
	}
	q := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return string(q[1 : len(q)-1])
}

// replace returns s with every form of every secret replaced. It searches
// for each form in turn: strings.Index is fast enough that this beats a
// strings.Replacer of every form built for each callout.
func (rd *redactor) replace(s string) string {
	for _, f := range rd.forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, callout.Redacted)
		}
	}
	for _, h := range rd.hex {
		s = replaceFold(s, h)
	}
	return s
}

// replaceFold replaces the lower-case hex word h in s in any case. It looks
// in an ASCII-lowered copy of s, whose byte offsets are those of s.
func replaceFold(s, h string) string {
	lower := asciiLower(s)
	if !strings.Contains(lower, h) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, h)
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(callout.Redacted)
		s, lower = s[i+len(h):], lower[i+len(h):]
	}
	b.WriteString(s)
	return b.String()
}

// isHex reports whether s is made of hex digits only.
func isHex(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
	})
}

// asciiLower lowers ASCII letters only, byte by byte, so that byte offsets
// do not move (strings.ToLower would also rewrite invalid UTF-8).
func asciiLower(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func redactBreakdown(nodes []callout.BreakdownNode, rd *redactor) {
	for i := range nodes {
		nodes[i].Name = rd.replace(nodes[i].Name)
		redactBreakdown(nodes[i].Items, rd)
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
	err = unwrapURL(err)
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

// unwrapURL strips the *url.Error that http.Client wraps its errors in: its
// text holds the request URL, which may carry a token in its query.
func unwrapURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// headersTooLargeTexts are the texts of the transport's refusal of an answer
// whose headers exceed its MaxResponseHeaderBytes, in HTTP/1 and HTTP/2.
// net/http gives that refusal no type or sentinel error, so its text is the
// only handle; TestHugeHeaders fails should a Go release reword HTTP/1's.
var headersTooLargeTexts = []string{
	"net/http: server response headers exceeded ",
	"http2: response header list larger than advertised limit",
}

// headersTooLarge reports whether err is the transport's refusal of an
// answer's oversized headers.
func headersTooLarge(err error) bool {
	text := err.Error()
	return slices.ContainsFunc(headersTooLargeTexts, func(t string) bool { return strings.Contains(text, t) })
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
