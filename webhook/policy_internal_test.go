package webhook

import (
	"errors"
	"net/netip"
	"testing"
)

// TestCheckAddr checks that the dial-time check refuses what
// callout.ForbiddenAddr forbids (its table test is in the root package),
// naming the address without its mapping or zone.
func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr string
		want netip.Addr // invalid: allowed
	}{
		{"8.8.8.8", netip.Addr{}},
		{"2002:808:808::", netip.Addr{}},
		{"::ffff:127.0.0.1", netip.MustParseAddr("127.0.0.1")},
		{"fe80::1%eth0", netip.MustParseAddr("fe80::1")},
		{"2002:7f00:1::", netip.MustParseAddr("2002:7f00:1::")},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := checkAddr(netip.MustParseAddr(tt.addr))
			var blocked *BlockedError
			switch {
			case !tt.want.IsValid() && err != nil:
				t.Errorf("checkAddr = %v, want nil", err)
			case tt.want.IsValid() && (!errors.As(err, &blocked) || !errors.Is(err, ErrBlocked)):
				t.Errorf("checkAddr = %v, want a *BlockedError", err)
			case tt.want.IsValid() && blocked.Addr != tt.want:
				t.Errorf("Addr = %s, want %s", blocked.Addr, tt.want)
			}
		})
	}
}

// TestControlDialMalformed checks that an address the dialer hands over that
// cannot be parsed is refused rather than let through.
func TestControlDialMalformed(t *testing.T) {
	if err := controlDial("tcp", "not-an-address", nil); !errors.Is(err, ErrBlocked) {
		t.Errorf("err = %v, want ErrBlocked", err)
	}
	if err := controlDial("tcp4", "93.184.216.34:443", nil); err != nil {
		t.Errorf("a public address: err = %v, want nil", err)
	}
}

// TestBodyText checks the delivery's view of an answer's body.
func TestBodyText(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		limit int
		want  string
	}{
		{"fits", "héllo", 10, "héllo"},
		{"cut before a rune that does not fit", "aé", 2, "a"},
		{"rune cut off by earlier truncation", "ab\xc3", 10, "ab"},
		{"invalid byte replaced", "a\xffb", 10, "a\uFFFDb"},
		{"replacement counted against the limit", "ab\xff", 4, "ab"},
		{"NUL replaced", "a\x00", 10, "a\uFFFD"},
		{"empty", "", 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bodyText([]byte(tt.body), tt.limit); got != tt.want {
				t.Errorf("bodyText(%q, %d) = %q, want %q", tt.body, tt.limit, got, tt.want)
			}
		})
	}
}
