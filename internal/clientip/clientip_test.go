package clientip

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	cases := []struct {
		name    string
		trusted []string
		remote  string
		xff     []string // X-Forwarded-For header lines
		realIP  string
		want    string
	}{
		{"no proxies: the peer", nil, "203.0.113.5:4242", nil, "", "203.0.113.5"},
		{"no proxies: XFF ignored", nil, "203.0.113.5:4242", []string{"198.51.100.1"}, "", "203.0.113.5"},
		{"no proxies: X-Real-IP ignored", nil, "203.0.113.5:4242", nil, "198.51.100.1", "203.0.113.5"},
		{"untrusted peer: XFF ignored", []string{"10.0.0.0/8"}, "203.0.113.5:1", []string{"198.51.100.1"}, "", "203.0.113.5"},
		{"trusted peer: one hop", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"198.51.100.1"}, "", "198.51.100.1"},
		{"trusted peer: rightmost untrusted", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9"}, "", "198.51.100.1"},
		{"spoofed left hop not taken", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"6.6.6.6, 198.51.100.1"}, "", "198.51.100.1"},
		{"several header lines", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"6.6.6.6", "198.51.100.1"}, "", "198.51.100.1"},
		{"all hops trusted: leftmost", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"10.0.0.1, 10.0.0.2"}, "", "10.0.0.1"},
		{"garbage hop stops at trusted one", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"evil, 10.0.0.2"}, "", "10.0.0.2"},
		{"garbage rightmost: the peer", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"1.1.1.1, nonsense"}, "", "10.1.2.3"},
		{"hop with port", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"198.51.100.1:5555"}, "", "198.51.100.1"},
		{"ipv6 hop", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"2001:db8::1"}, "", "2001:db8::1"},
		{"ipv6 hop with port", []string{"10.0.0.0/8"}, "10.1.2.3:1", []string{"[2001:db8::1]:443"}, "", "2001:db8::1"},
		{"X-Real-IP from trusted peer", []string{"127.0.0.1"}, "127.0.0.1:1", nil, "198.51.100.9", "198.51.100.9"},
		{"bad X-Real-IP: the peer", []string{"127.0.0.1"}, "127.0.0.1:1", nil, "not-an-ip", "127.0.0.1"},
		{"XFF wins over X-Real-IP", []string{"127.0.0.1"}, "127.0.0.1:1", []string{"198.51.100.1"}, "198.51.100.9", "198.51.100.1"},
		{"trusted peer without headers", []string{"127.0.0.1"}, "127.0.0.1:1", nil, "", "127.0.0.1"},
		{"ipv6 trusted peer", []string{"::1"}, "[::1]:80", []string{"198.51.100.1"}, "", "198.51.100.1"},
		{"mapped ipv4 peer", []string{"10.0.0.0/8"}, "[::ffff:10.0.0.1]:80", []string{"198.51.100.1"}, "", "198.51.100.1"},
		{"bad remote addr", nil, "garbage", nil, "", "invalid IP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if tc.realIP != "" {
				req.Header.Set("X-Real-IP", tc.realIP)
			}
			if got := r.ClientIP(req).String(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestZeroResolverTrustsNobody(t *testing.T) {
	req, _ := http.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:1"
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	for _, r := range []*Resolver{nil, {}} {
		if got := r.ClientIP(req); got != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("got %s", got)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	cases := []struct {
		in, want, err string
	}{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{" 192.0.2.7 ", "192.0.2.7/32", ""},
		{"::1", "::1/128", ""},
		{"fd00::/8", "fd00::/8", ""},
		{"::ffff:10.0.0.1", "10.0.0.1/32", ""},
		{"10.0.0.1/8", "", "host bits set"},
		{"10.0.0.0/33", "", "not a CIDR"},
		{"example.com", "", "not a CIDR"},
		{"", "", "empty"},
		{"fe80::1%eth0", "", "not a CIDR"},
	}
	for _, tc := range cases {
		p, err := ParsePrefix(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("%q: %v %v, want %s", tc.in, p, err, tc.want)
		}
	}
	if _, err := New([]string{"10.0.0.0/8", "bad"}); err == nil {
		t.Error("New accepted a bad entry")
	}
}
