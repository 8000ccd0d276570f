package callout

import (
	"fmt"
	"net/netip"
	"net/url"
)

// URLPolicy says which webhook and Auth0 URLs are allowed (the README's CALLOUT_ALLOW_PRIVATE_NETWORKS and CALLOUT_ALLOW_INSECURE_HTTP). It holds
// the rules that need no network; the outbound client checks them again on
// every call, and also checks the address each host name resolves to.
type URLPolicy struct {
	// AllowInsecureHTTP allows plain http:// URLs.
	AllowInsecureHTTP bool
	// AllowPrivateNetworks allows hosts that are literal loopback, private
	// or other non-public addresses.
	AllowPrivateNetworks bool
}

// URLRule names a rule of the URL policy.
type URLRule int

// The rules a URL can break.
const (
	// URLNotAbsolute: the URL is not an absolute URL with a host.
	URLNotAbsolute URLRule = iota + 1
	// URLCredentials: the URL carries a user name or password.
	URLCredentials
	// URLInsecureHTTP: the scheme is http, and plain http is not allowed.
	URLInsecureHTTP
	// URLScheme: the scheme is neither https nor http.
	URLScheme
	// URLForbiddenAddress: the host is a literal address in a forbidden range.
	URLForbiddenAddress
)

// URLError is a URL that breaks a rule of the URL policy.
type URLError struct {
	// Rule is the rule broken.
	Rule URLRule
	// Scheme is the URL's scheme, for URLScheme.
	Scheme string
	// Addr and Reason are, for URLForbiddenAddress, the literal address and
	// why it is forbidden ("a loopback address").
	Addr   netip.Addr
	Reason string
}

// Error describes the broken rule.
func (e *URLError) Error() string {
	switch e.Rule {
	case URLNotAbsolute:
		return "the URL is not an absolute URL"
	case URLCredentials:
		return "the URL carries credentials"
	case URLInsecureHTTP:
		return "plain http is not allowed (https is required unless CALLOUT_ALLOW_INSECURE_HTTP=true)"
	case URLScheme:
		return fmt.Sprintf("the URL scheme %q is not allowed: use https", e.Scheme)
	case URLForbiddenAddress:
		return fmt.Sprintf("%s is %s, which the outbound policy forbids", e.Addr, e.Reason)
	}
	return fmt.Sprintf("URL rule %d broken", int(e.Rule))
}

// CheckURL parses raw and checks the rules of its form: an absolute URL with
// a host, no credentials, and a scheme the policy allows. It returns a
// *URLError for a broken rule. It leaves the host to CheckHost.
func (p URLPolicy) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return nil, &URLError{Rule: URLNotAbsolute}
	case u.User != nil:
		return u, &URLError{Rule: URLCredentials}
	}
	return u, p.CheckScheme(u.Scheme)
}

// CheckScheme accepts https, and http when the policy allows it; otherwise it
// returns a *URLError.
func (p URLPolicy) CheckScheme(scheme string) error {
	switch {
	case scheme == "https":
		return nil
	case scheme == "http" && p.AllowInsecureHTTP:
		return nil
	case scheme == "http":
		return &URLError{Rule: URLInsecureHTTP}
	}
	return &URLError{Rule: URLScheme, Scheme: scheme}
}

// CheckHost refuses, unless private networks are allowed, a host (as
// url.URL.Hostname gives it) that is a literal forbidden address. A host name
// passes: what it resolves to can change, so the outbound client checks the
// address it dials.
func (p URLPolicy) CheckHost(host string) error {
	if p.AllowPrivateNetworks {
		return nil
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	if reason, forbidden := ForbiddenAddr(addr); forbidden {
		return &URLError{Rule: URLForbiddenAddress, Addr: addr.Unmap().WithZone(""), Reason: reason}
	}
	return nil
}

// blockedPrefixes are the ranges beyond what netip.Addr's predicates cover.
var blockedPrefixes = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `a "this network" address`},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (CGNAT) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
}

// embedding are the IPv6 ranges whose addresses carry an IPv4 address that
// a gateway on the way may reach: that address is checked in turn.
var embedding = []struct {
	prefix netip.Prefix
	reason string
	ipv4   func(b [16]byte) [4]byte
}{
	// NAT64 (RFC 6052): the last 32 bits.
	{netip.MustParsePrefix("64:ff9b::/96"), "a NAT64 address embedding a forbidden IPv4 address",
		func(b [16]byte) [4]byte { return [4]byte(b[12:]) }},
	// 6to4 (RFC 3056): bits 16 to 48.
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address embedding a forbidden IPv4 address",
		func(b [16]byte) [4]byte { return [4]byte(b[2:6]) }},
	// Teredo (RFC 4380): the client's address, its bits inverted, in the
	// last 32 bits.
	{netip.MustParsePrefix("2001::/32"), "a Teredo address embedding a forbidden IPv4 address",
		func(b [16]byte) [4]byte { return [4]byte{^b[12], ^b[13], ^b[14], ^b[15]} }},
}

// ForbiddenAddr reports whether addr is loopback, private (RFC 1918, IPv6
// ULA), link-local, CGNAT, multicast, unspecified or otherwise not a public
// unicast address, including an IPv6 address that embeds such an IPv4 one
// (NAT64, 6to4, Teredo), and says why ("a loopback address").
func ForbiddenAddr(addr netip.Addr) (reason string, forbidden bool) {
	addr = addr.Unmap().WithZone("")
	for _, e := range embedding {
		if e.prefix.Contains(addr) {
			if _, bad := ForbiddenAddr(netip.AddrFrom4(e.ipv4(addr.As16()))); bad {
				return e.reason, true
			}
		}
	}
	switch {
	case addr.IsUnspecified():
		return "an unspecified address", true
	case addr.IsLoopback():
		return "a loopback address", true
	case addr.IsPrivate():
		return "a private-network address", true
	case addr.IsLinkLocalUnicast():
		return "a link-local address", true
	case addr.IsMulticast():
		return "a multicast address", true
	}
	for _, b := range blockedPrefixes {
		if b.prefix.Contains(addr) {
			return b.reason, true
		}
	}
	return "", false
}
