package webhook

import (
	"errors"
	"net/netip"
	"testing"
)

// TestCheckAddr checks the address policy on both sides of each boundary.
func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"172.15.255.255", false},
		{"172.32.0.1", false},
		{"100.63.255.255", false},
		{"100.128.0.1", false},
		{"11.0.0.1", false},
		{"223.255.255.255", false},
		{"2606:4700:4700::1111", false},
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::808:808", false},

		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"10.255.255.255", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.0.1", true},
		{"169.254.169.254", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		{"198.18.0.1", true},
		{"192.0.0.8", true},
		{"::", true},
		{"::1", true},
		{"fc00::1", true},
		{"fd00::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fec0::1", true},
		{"ff02::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"64:ff9b::7f00:1", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := checkAddr(netip.MustParseAddr(tt.addr))
			if blocked := errors.Is(err, ErrBlocked); blocked != tt.blocked {
				t.Errorf("blocked = %v (%v), want %v", blocked, err, tt.blocked)
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
