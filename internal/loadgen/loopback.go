package loadgen

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// CheckLoopback returns nil when rawURL is a ws:// or wss:// URL whose host
// is a loopback address: an IP in 127.0.0.0/8, ::1, or the name localhost.
// Other names are refused without being resolved; the dialer checks the
// address it actually connects to as well (loopbackDialer).
func CheckLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("loadgen: server URL %q: %w", rawURL, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("loadgen: server URL %q: scheme must be ws or wss", rawURL)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("loadgen: server URL %q has no host", rawURL)
	}
	if isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%w: %q is not; the load tool only runs against a server on this machine", ErrNotLoopback, host)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackDialer refuses, at connect time, any address that is not a
// loopback IP: "localhost" could be mapped elsewhere in /etc/hosts.
func loopbackDialer() *net.Dialer {
	return &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return fmt.Errorf("loadgen: dial %s: %w", address, err)
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("%w: refusing to connect to %s", ErrNotLoopback, address)
			}
			return nil
		},
	}
}

// metricsURL derives the server's /metrics address from its WebSocket URL.
func metricsURL(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", fmt.Errorf("loadgen: server URL: %w", err)
	}
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: u.Host, Path: "/metrics"}).String(), nil
}
