package consoletest

import (
	"path/filepath"
	"testing"

	"github.com/heraldim/herald/internal/config"
	"github.com/heraldim/herald/internal/emulator/local"
	"github.com/heraldim/herald/internal/testkit"
)

// StartEmulated starts a server as herald serve --emulate does: every
// vendor's emulator in process (local.Start), the dev app's pushes going
// through them (Manifest.Providers().Install, before the server runs, so
// that its push workers find them) and the emulated phones served on the
// admin API for the dev app (SetEmulatedPhones). It then opens a browser
// on the console. Skipped without Chromium (checked first). The emulators
// stop after the server, as under serve: its push workers stop before the
// vendors they talk to.
func StartEmulated(t testing.TB, mod func(*config.Config)) (*Console, *local.Emulators) {
	t.Helper()
	Chromium(t)
	var emus *local.Emulators
	srv := testkit.StartBefore(t, mod, func(s *testkit.Server) {
		e, err := local.Start(local.Config{Dir: filepath.Join(s.DataDir, "emulators")})
		if err != nil {
			t.Fatalf("start the emulators: %v", err)
		}
		// Registered before the server's own cleanup, so run after it.
		t.Cleanup(e.Close)
		provs, err := e.Manifest.Providers()
		if err != nil {
			t.Fatalf("the emulators' providers: %v", err)
		}
		t.Cleanup(provs.Close)
		provs.Install(s.Srv.Providers, s.App.AppID)
		s.Srv.SetEmulatedPhones(s.App.AppID, e.Phones.Handler())
		emus = e
	})
	return Open(t, srv), emus
}
