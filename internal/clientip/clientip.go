// Package clientip finds the address of the client behind an HTTP request:
// the socket's peer, or, only when that peer is a trusted reverse proxy,
// the address the proxy reports in X-Forwarded-For or X-Real-IP. A header
// from anyone else is ignored, so that a client cannot pick the address
// the server counts it under.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefix parses one trusted-proxies entry: a CIDR ("10.0.0.0/8",
// "fd00::/8") or a single address ("192.0.2.7", taken as /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty trusted proxy")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("trusted proxy %q is not a CIDR (e.g. 10.0.0.0/8) or an IP address", s)
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("trusted proxy %q has host bits set: did you mean %s?", s, p.Masked())
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("trusted proxy %q is not a CIDR (e.g. 10.0.0.0/8) or an IP address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Resolver finds a request's client address. The zero value trusts no
// proxy: every request's address is its socket peer's.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver trusting the proxies in the given entries (see
// ParsePrefix).
func New(trustedProxies []string) (*Resolver, error) {
	r := &Resolver{}
	for _, s := range trustedProxies {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("clientip: %w", err)
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the address of req's client. It is the socket peer's
// (req.RemoteAddr), unless that peer is a trusted proxy: then it is the
// rightmost address of X-Forwarded-For that is not a trusted proxy (the
// last hop a trusted proxy vouches for; addresses further left were
// written by the client and may be forged), or the leftmost when every
// hop is trusted. An unparsable hop stops the walk at the trusted hop
// after it. Without X-Forwarded-For, a trusted peer's X-Real-IP is used
// when it is an address. An invalid RemoteAddr gives the zero Addr.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	peer := parseAddr(req.RemoteAddr)
	if !peer.IsValid() || r == nil || !r.isTrusted(peer) {
		return peer
	}
	if xff := req.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops := strings.Split(strings.Join(xff, ","), ",")
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a := parseAddr(strings.TrimSpace(hops[i]))
			if !a.IsValid() {
				return client
			}
			client = a
			if !r.isTrusted(a) {
				return a
			}
		}
		return client
	}
	if a := parseAddr(strings.TrimSpace(req.Header.Get("X-Real-IP"))); a.IsValid() {
		return a
	}
	return peer
}

// parseAddr parses "ip", "ip:port" or "[ipv6]:port"; IPv4-mapped IPv6
// addresses are unmapped and zones dropped, so that one client has one
// address.
func parseAddr(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}
