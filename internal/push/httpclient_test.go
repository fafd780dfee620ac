package push

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"https://push-api.cloud.huawei.com", true},
		{"http://127.0.0.1:8443/base", true},
		{"ftp://example.com", false},
		{"/relative/path", false},
		{"https://", false},
		{"://bad", false},
	} {
		if err := CheckURL(tc.in); (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}

func TestHTTPClientTrustsTheGivenRoots(t *testing.T) {
	roots := x509.NewCertPool()
	tr, ok := HTTPClient(roots).Transport.(*http.Transport)
	if !ok {
		t.Fatal("HTTPClient's transport is not an *http.Transport")
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.RootCAs != roots || tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || !tr.ForceAttemptHTTP2 {
		t.Fatalf("transport TLS %+v, HTTP/2 %v: want the given roots, TLS 1.2 at least, HTTP/2 attempted", tr.TLSClientConfig, tr.ForceAttemptHTTP2)
	}
	if tr == http.DefaultTransport {
		t.Fatal("HTTPClient shares http.DefaultTransport")
	}
}
