package admin

import (
	"errors"
	"testing"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// TestBuildHarmonyStoredErrors: a stored HarmonyOS config that cannot be
// built says why with the catalogue's code: unreadable, a bad environment
// or CA, a missing service account (invalid credential, not a bad
// argument), a service account that does not parse.
func TestBuildHarmonyStoredErrors(t *testing.T) {
	h := &Handler{}
	for _, tt := range []struct {
		name, config string
		code         protocol.Code
	}{
		{"unreadable", `{"serviceAccountJSON":`, protocol.CodeInvalidArgument},
		{"bad environment", `{"environments":["staging"],"serviceAccountJSON":"{}"}`, protocol.CodeInvalidArgument},
		{"bad CA", `{"serviceAccountJSON":"{}","caPEM":"nope"}`, protocol.CodeInvalidArgument},
		{"no service account", `{}`, protocol.CodeInvalidCredential},
		{"service account not a string or object", `{"serviceAccountJSON":7}`, protocol.CodeInvalidCredential},
		{"service account without a key", `{"serviceAccountJSON":"{\"project_id\":\"p\"}"}`, protocol.CodeInvalidCredential},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := h.build(push.VendorHarmony, []byte(tt.config))
			var pe *protocol.Error
			if p != nil || !errors.As(err, &pe) || pe.Code != tt.code {
				t.Fatalf("build = %v, %v; want code %d", p, err, tt.code)
			}
		})
	}
}
