package push

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
)

// HTTPClient is the HTTP client a provider makes for itself when its
// config gives none: http.DefaultTransport's settings (HTTP/2 attempted,
// proxies from the environment, its timeouts) with roots as the trusted
// CAs (nil: the system's) and TLS 1.2 at least. The provider owns it and
// closes its idle connections on Close.
func HTTPClient(roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	t.ForceAttemptHTTP2 = true
	return &http.Client{Transport: t}
}

// CheckURL checks a configured vendor endpoint (a base or token URL): an
// absolute http or https URL with a host.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
