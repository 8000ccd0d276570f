package callout

import "time"

// Default limits, each defined once: the configuration starts from them, and
// a package given no limit of its own falls back to them.
const (
	// DefaultMaxRequestBytes bounds an inbound request body (413 beyond).
	DefaultMaxRequestBytes = 16 << 20
	// DefaultMaxPayloadBytes bounds the payload posted to a webhook.
	DefaultMaxPayloadBytes = 16 << 20
	// DefaultMaxResponseBytes bounds a webhook's answer: a longer one is
	// bad_response.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultSubmissionLease is how long a submission claim holds a job. It
	// outlasts the longest webhook timeout (60 s), so a claim is lost only
	// when its process died.
	DefaultSubmissionLease = 2 * time.Minute
	// DefaultMaxConcurrentCallouts bounds the price, submit and webhook test
	// requests one process works on at once; others wait their turn. It
	// matches the webhook client's connections to one manufacturer's host:
	// beyond that, callouts would only wait inside the client, each holding
	// its documents and built payload.
	DefaultMaxConcurrentCallouts = 128
	// DefaultMaxCalloutsPerManufacturer bounds those of one manufacturer, so
	// that a manufacturer whose webhook hangs, and its callers, leave the
	// rest of the capacity to the others.
	DefaultMaxCalloutsPerManufacturer = 32
	// DefaultMaxInflightBodyBytes bounds the request bodies being read and
	// handled at once, in all, as declared: a handled body takes about three
	// times its size at its peak (the body, the documents parsed out of it,
	// the database's copy), so a burst of uploads peaks near 400 MB.
	DefaultMaxInflightBodyBytes = 128 << 20
	// DefaultBodyReadGrace and DefaultBodyMinRate pace inbound bodies: a
	// body may take the grace plus its length at the rate (a 16 MiB body:
	// 10 s + 256 s); one that stalls longer is cut off with 408. 64 KiB/s
	// is a 512 kbit/s link.
	DefaultBodyReadGrace = 10 * time.Second
	DefaultBodyMinRate   = 64 << 10
)
