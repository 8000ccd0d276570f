package callout

import (
	"errors"
	"net/netip"
	"testing"
)

// TestValidateLiteralAddresses checks that, without private networks
// allowed, a webhook or Auth0 tenant URL naming a forbidden address literally
// is refused when it is configured, and that host names are left to the
// outbound client, which checks the address it dials.
func TestValidateLiteralAddresses(t *testing.T) {
	tests := []struct {
		name    string
		url     string // the webhook's URL
		tenant  string // the Auth0 tenant, when set
		private bool   // private networks allowed
		want    []FieldError
	}{
		{name: "metadata service", url: "https://169.254.169.254/latest/meta-data/",
			want: []FieldError{{"url", "must not name 169.254.169.254, a link-local address; such addresses are allowed only with CALLOUT_ALLOW_PRIVATE_NETWORKS=true"}}},
		{name: "private network with port", url: "https://10.1.2.3:8443/",
			want: []FieldError{{"url", "must not name 10.1.2.3, a private-network address; such addresses are allowed only with CALLOUT_ALLOW_PRIVATE_NETWORKS=true"}}},
		{name: "IPv4-mapped metadata service", url: "https://[::ffff:169.254.169.254]/",
			want: []FieldError{{"url", "must not name 169.254.169.254, a link-local address; such addresses are allowed only with CALLOUT_ALLOW_PRIVATE_NETWORKS=true"}}},
		{name: "IPv6 loopback", url: "https://[::1]/hook",
			want: []FieldError{{"url", "must not name ::1, a loopback address; such addresses are allowed only with CALLOUT_ALLOW_PRIVATE_NETWORKS=true"}}},
		{name: "6to4 of loopback", url: "https://[2002:7f00:1::]/",
			want: []FieldError{{"url", "must not name 2002:7f00:1::, a 6to4 address embedding a forbidden IPv4 address; such addresses are allowed only with CALLOUT_ALLOW_PRIVATE_NETWORKS=true"}}},
		{name: "tenant base URL", url: "https://erp.example.com/hook", tenant: "https://169.254.169.254",
			want: []FieldError{{"auth.auth0.tenant_domain", "must not name 169.254.169.254, a link-local address; such addresses are allowed only with CALLOUT_ALLOW_PRIVATE_NETWORKS=true"}}},
		{name: "bare tenant host", url: "https://erp.example.com/hook", tenant: "10.0.0.7",
			want: []FieldError{{"auth.auth0.tenant_domain", "must not name 10.0.0.7, a private-network address; such addresses are allowed only with CALLOUT_ALLOW_PRIVATE_NETWORKS=true"}}},
		{name: "bare tenant IPv6 with port", url: "https://erp.example.com/hook", tenant: "[fd00::1]:8443",
			want: []FieldError{{"auth.auth0.tenant_domain", "must not name fd00::1, a private-network address; such addresses are allowed only with CALLOUT_ALLOW_PRIVATE_NETWORKS=true"}}},

		{name: "public literal", url: "https://93.184.216.34/hook"},
		{name: "6to4 of a public address", url: "https://[2002:808:808::]/hook"},
		{name: "host name", url: "https://localhost/hook"},
		{name: "private allowed", url: "https://127.0.0.1:8080/hook", tenant: "10.0.0.7", private: true},
		{name: "an earlier rule wins", url: "https://u:p@10.1.2.3/",
			want: []FieldError{{"url", "must not carry credentials; configure them under auth"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWebhook("103", KindSubmission)
			w.Enabled = true
			w.URL = tt.url
			if tt.tenant != "" {
				w.Auth = Auth{Type: AuthAuth0, Auth0: Auth0{TenantDomain: tt.tenant, ClientID: "client", ClientSecret: "secret"}}
			}
			err := w.Validate(URLPolicy{AllowPrivateNetworks: tt.private})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != ECodeInvalid {
				t.Fatalf("Validate = %v, want a %s error", err, ECodeInvalid)
			}
			if len(e.Fields) != len(tt.want) {
				t.Fatalf("Fields = %q, want %q", e.Fields, tt.want)
			}
			for i := range tt.want {
				if e.Fields[i] != tt.want[i] {
					t.Errorf("Fields[%d] = %q, want %q", i, e.Fields[i], tt.want[i])
				}
			}
		})
	}
}

// TestForbiddenAddr checks the address policy on both sides of each boundary.
func TestForbiddenAddr(t *testing.T) {
	tests := []struct {
		addr      string
		forbidden bool
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
		{"2002:808:808::", false},                 // 6to4 of 8.8.8.8
		{"2002:808:808:1:2:3:4:5", false},         // the same, with a subnet and host
		{"2001:0:4136:e378:0:0:f7f7:f7f7", false}, // Teredo of 8.8.8.8
		{"2001:db8::1", false},                    // documentation, outside Teredo's /32

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
		{"2002:7f00:1::", true},                        // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", true},                    // 6to4 of 169.254.169.254
		{"2002:a00:1:ffff::", true},                    // 6to4 of 10.0.0.1
		{"2001:0:4136:e378:0:0:80ff:fffe", true},       // Teredo of 127.0.0.1
		{"2001:0:4136:e378:8000:63bf:f5ff:fffe", true}, // Teredo of 10.0.0.1
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			reason, forbidden := ForbiddenAddr(netip.MustParseAddr(tt.addr))
			if forbidden != tt.forbidden {
				t.Errorf("forbidden = %v (%s), want %v", forbidden, reason, tt.forbidden)
			}
			if forbidden == (reason == "") {
				t.Errorf("reason = %q with forbidden = %v, want a reason exactly when forbidden", reason, forbidden)
			}
		})
	}
}
