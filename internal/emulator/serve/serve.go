// Package serve runs an emulator's HTTP(S) server: start on a loopback
// port, the base URL a client can dial, serve until shut down, and a done
// channel that ends the emulator's slow faults and long waits at shutdown.
// Every vendor emulator but APNs (two listeners, HTTP/2 only) uses it.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Server is one emulator's server. The zero value is not usable: New.
type Server struct {
	name   string
	done   chan struct{} // closed by Shutdown
	served chan struct{} // closed when the serving goroutine returned

	mu       sync.Mutex
	srv      *http.Server
	baseURL  string
	stopped  bool
	serveErr error
}

// New returns a server for the emulator called name (in errors).
func New(name string) *Server {
	return &Server{name: name, done: make(chan struct{}), served: make(chan struct{})}
}

// Done is closed when Shutdown begins: slow faults and long waits end.
func (s *Server) Done() <-chan struct{} { return s.done }

// Start listens on addr ("" for 127.0.0.1 on a free port) and serves h in
// a goroutine owned by s until Shutdown: over TLS with cert, or plain HTTP
// when cert is nil. A Server starts once.
func (s *Server) Start(addr string, h http.Handler, cert *tls.Certificate, errorLog *log.Logger) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.srv != nil || s.stopped {
		s.mu.Unlock()
		ln.Close()
		return fmt.Errorf("%s emulator: started already, or shut down", s.name)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errorLog}
	scheme := "http"
	if cert != nil {
		scheme = "https"
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	s.srv = srv
	s.baseURL = scheme + "://" + reachable(ln.Addr())
	s.mu.Unlock()

	go func() {
		defer close(s.served)
		var err error
		if cert == nil {
			err = srv.Serve(ln)
		} else {
			err = srv.ServeTLS(ln, "", "")
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.mu.Lock()
			s.serveErr = err
			s.mu.Unlock()
		}
	}()
	return nil
}

// reachable turns a listener's address into one a client can dial: an
// unspecified IP becomes the loopback one.
func reachable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}

// Run is Start, then serving until ctx ends, then Shutdown (giving
// requests in flight five seconds).
func (s *Server) Run(ctx context.Context, addr string, h http.Handler, cert *tls.Certificate, errorLog *log.Logger) error {
	if err := s.Start(addr, h, cert, errorLog); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.served:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serveErr
}

// Shutdown closes Done, stops the server and waits for the serving
// goroutine; it closes the connections left when ctx ends first. It is
// idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	close(s.done)
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	<-s.served
	return err
}

// URL is the base URL a client dials ("" before Start).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}
