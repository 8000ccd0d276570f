package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/callout/callout"
)

// Policy says where outbound calls may go (the README's CALLOUT_ALLOW_PRIVATE_NETWORKS and CALLOUT_ALLOW_INSECURE_HTTP).
type Policy struct {
	// AllowPrivateNetworks lifts the SSRF block, for development and tests.
	AllowPrivateNetworks bool
	// AllowInsecureHTTP allows plain http:// URLs.
	AllowInsecureHTTP bool
	// Resolver resolves host names; nil means net.DefaultResolver. Tests
	// inject one pointing at a fake DNS server.
	Resolver *net.Resolver
}

// URLPolicy is the part of p that needs no network, for checking a
// configuration before it is used.
func (p Policy) URLPolicy() callout.URLPolicy {
	return callout.URLPolicy{AllowInsecureHTTP: p.AllowInsecureHTTP, AllowPrivateNetworks: p.AllowPrivateNetworks}
}

// Transport tuning. The callout's own context bounds every call, so the
// transport's timeouts only guard stages that the context would otherwise
// leave to the operating system.
const (
	dialTimeout         = 10 * time.Second
	keepAlive           = 30 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	maxIdleConns        = 1024
	maxIdleConnsPerHost = 64
	// maxConnsPerHost bounds the connections to one manufacturer's host: a
	// burst of callouts beyond it waits for a connection (within each
	// callout's timeout) instead of opening a socket, with its buffers, per
	// callout, which would also flood the manufacturer.
	maxConnsPerHost   = 128
	maxResponseHeader = 64 << 10
)

// NewHTTPClient returns an HTTP client for calls to manufacturers and to
// Auth0 that enforces p: the address actually dialled is checked just before
// the connection is made, so a host name that resolves (or re-resolves, as in
// DNS rebinding) to a forbidden address is refused with a *BlockedError, and
// URLs other than https (and http when allowed) are refused. It never follows
// redirects: the caller sees the 3xx. It uses no proxy from the environment,
// since a proxy would dial the destination out of the policy's sight.
func NewHTTPClient(p Policy) *http.Client {
	dialer := &net.Dialer{
		Timeout:   dialTimeout,
		KeepAlive: keepAlive,
		Resolver:  p.Resolver,
	}
	if !p.AllowPrivateNetworks {
		dialer.Control = controlDial
	}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			// A literal address is checked before any socket is made, so that
			// the answer does not depend on the host's address families.
			if !p.AllowPrivateNetworks {
				if err := checkLiteral(network, address); err != nil {
					return nil, err
				}
			}
			return dialer.DialContext(ctx, network, address)
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		MaxConnsPerHost:        maxConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeader,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{
		Transport: &schemeGuard{policy: p.URLPolicy(), next: transport},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// schemeGuard refuses requests whose scheme the policy forbids, so that the
// client is safe whoever builds the request (the webhook client or Auth0's
// token source).
type schemeGuard struct {
	policy callout.URLPolicy
	next   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.policy.CheckScheme(req.URL.Scheme); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &BlockedError{Reason: err.Error()}
	}
	return g.next.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (g *schemeGuard) CloseIdleConnections() {
	if c, ok := g.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// ErrBlocked is matched by every *BlockedError (errors.Is(err, ErrBlocked)).
var ErrBlocked = errors.New("destination blocked by the outbound policy")

// BlockedError says that the outbound policy forbids a destination: an address
// in a forbidden range, or a URL scheme that is not allowed. It reaches the
// caller wrapped in *url.Error and *net.OpError; use errors.As.
type BlockedError struct {
	// Addr is the forbidden address; invalid when the scheme was refused.
	Addr netip.Addr
	// Reason says why, for an administrator.
	Reason string
}

// Error describes the refusal.
func (e *BlockedError) Error() string {
	if e.Addr.IsValid() {
		return fmt.Sprintf("%s is %s, which the outbound policy forbids", e.Addr, e.Reason)
	}
	return e.Reason
}

// Is reports whether target is ErrBlocked.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// controlDial runs after the socket is made and before it connects: the
// address here is the one resolved for this very connection.
func controlDial(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Reason: fmt.Sprintf("the address %q cannot be checked", address)}
	}
	return checkAddr(ap.Addr())
}

// checkLiteral checks a dial address whose host is an IP literal; host names
// are left to controlDial, which sees what they resolved to.
func checkLiteral(_, address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil // the dialer reports the malformed address
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	return checkAddr(addr)
}

// checkAddr returns a *BlockedError when addr is one the policy forbids
// (callout.ForbiddenAddr).
func checkAddr(addr netip.Addr) error {
	if reason, forbidden := callout.ForbiddenAddr(addr); forbidden {
		return &BlockedError{Addr: addr.Unmap().WithZone(""), Reason: reason}
	}
	return nil
}
