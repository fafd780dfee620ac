package harmony

import "crypto/tls"

func tlsConfig(e *Emulator) *tls.Config { return &tls.Config{RootCAs: e.CertPool()} }
