package push

import "time"

// Credential is an app's stored credential for one vendor. Config is the
// vendor-specific JSON document a provider is built from, secrets included;
// it is never logged nor sent back to a client.
type Credential struct {
	AppID  string
	Vendor Vendor
	// Environments are the environments whose devices the credential
	// serves.
	Environments []Environment
	Config       []byte
	CreatedAt    time.Time
	UpdatedAt    time.Time
}
