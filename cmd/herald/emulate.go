package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/emulator/local"
)

// emulatorFlags are the emulators' listen addresses, shared by emulate and
// serve --emulate.
type emulatorFlags struct {
	cfg local.Config
}

func (f *emulatorFlags) bind(cmd *cobra.Command, prefix string) {
	fs := cmd.Flags()
	fs.StringVar(&f.cfg.APNsProductionAddr, prefix+"apns-production-addr", "127.0.0.1:0", "APNs emulator's production host (port 0: a free one)")
	fs.StringVar(&f.cfg.APNsDevelopmentAddr, prefix+"apns-development-addr", "127.0.0.1:0", "APNs emulator's development (sandbox) host")
	fs.StringVar(&f.cfg.APNsControlAddr, prefix+"apns-control-addr", "127.0.0.1:0", "APNs emulator's control API (simulated devices, faults)")
	fs.StringVar(&f.cfg.FCMAddr, prefix+"fcm-addr", "127.0.0.1:0", "FCM emulator (messages:send and the OAuth token endpoint)")
	fs.StringVar(&f.cfg.FCMControlAddr, prefix+"fcm-control-addr", "127.0.0.1:0", "FCM emulator's control API")
	fs.StringVar(&f.cfg.HuaweiAddr, prefix+"huawei-addr", "127.0.0.1:0", "Huawei Push Kit emulator (messages:send and the OAuth token endpoint)")
	fs.StringVar(&f.cfg.HuaweiControlAddr, prefix+"huawei-control-addr", "127.0.0.1:0", "Huawei emulator's control API")
	fs.StringVar(&f.cfg.XiaomiAddr, prefix+"xiaomi-addr", "127.0.0.1:0", "Xiaomi MiPush emulator")
	fs.StringVar(&f.cfg.XiaomiControlAddr, prefix+"xiaomi-control-addr", "127.0.0.1:0", "Xiaomi emulator's control API")
	fs.StringVar(&f.cfg.OPPOAddr, prefix+"oppo-addr", "127.0.0.1:0", "OPPO PUSH emulator")
	fs.StringVar(&f.cfg.OPPOControlAddr, prefix+"oppo-control-addr", "127.0.0.1:0", "OPPO emulator's control API")
	fs.StringVar(&f.cfg.VivoAddr, prefix+"vivo-addr", "127.0.0.1:0", "vivo push emulator")
	fs.StringVar(&f.cfg.VivoControlAddr, prefix+"vivo-control-addr", "127.0.0.1:0", "vivo emulator's control API")
	fs.StringVar(&f.cfg.HarmonyAddr, prefix+"harmony-addr", "127.0.0.1:0", "HarmonyOS NEXT Push Kit (v3) emulator")
	fs.StringVar(&f.cfg.HarmonyControlAddr, prefix+"harmony-control-addr", "127.0.0.1:0", "HarmonyOS emulator's control API")
	fs.StringVar(&f.cfg.HonorAddr, prefix+"honor-addr", "127.0.0.1:0", "Honor Push emulator (sendMessage and the OAuth token endpoint)")
	fs.StringVar(&f.cfg.HonorControlAddr, prefix+"honor-control-addr", "127.0.0.1:0", "Honor emulator's control API")
	fs.StringVar(&f.cfg.WebPushAddr, prefix+"webpush-addr", "127.0.0.1:0", "Web Push service emulator (browsers)")
	fs.StringVar(&f.cfg.WebPushControlAddr, prefix+"webpush-control-addr", "127.0.0.1:0", "Web Push emulator's control API (simulated browsers)")
	fs.StringVar(&f.cfg.PhonesAddr, prefix+"phones-addr", "127.0.0.1:0", "phones API: emulated phones over HTTP for non-Go tests and browsers (docs/emulated-phone.md)")
	fs.StringVar(&f.cfg.BundleID, prefix+"bundle-id", "im.herald.dev", "the app's iOS bundle ID and Android package name")
}

func newEmulateCmd() *cobra.Command {
	var ef emulatorFlags
	cmd := &cobra.Command{
		Use:   "emulate --dir DIR",
		Short: "Run the push vendors' emulators for local testing without phones or credentials",
		Long: `Run strict emulators of APNs, FCM, Huawei Push Kit, Xiaomi MiPush, OPPO
PUSH, vivo push, Honor Push, HarmonyOS NEXT Push Kit (v3, with a
service account made at start) and a Web Push service (browsers) on
loopback addresses until interrupted. An APNs team
key, a Firebase project with a service account, and an app with its
credential at each Android vendor (with an "im" channel at Xiaomi and
OPPO) are made at start, and written into --dir with the emulators' CA
certificates and emulators.json, which lists every URL (vendor endpoints
and control APIs, and the phones API that plays phones over HTTP for
tests not written in Go) and credential file. The Android vendors' credential
files are bodies for the admin API's PUT .../push/credentials/{vendor}. Configure a server's providers from
those files, and play phones with "herald device --data DIR".

Everything is made afresh at each start: devices registered with an
earlier run are unknown to a new one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			emus, err := local.Start(ef.cfg)
			if err != nil {
				return err
			}
			defer emus.Close()
			printEmulators(cmd.OutOrStdout(), ef.cfg.Dir, emus.Manifest)
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&ef.cfg.Dir, "dir", "./herald-emulators", "directory for the credentials, CA certificates and emulators.json")
	ef.bind(cmd, "")
	return cmd
}

func printEmulators(w io.Writer, dir string, m local.Manifest) {
	fmt.Fprintf(w, `Emulators running (manifest: %s/%s)
APNs
  production:    %s
  development:   %s
  control:       %s
  CA:            %s
  key (.p8):     %s  (key ID %s, team ID %s)
  bundle ID:     %s
FCM
  send:          %s
  token URL:     %s
  control:       %s
  CA:            %s
  service acct:  %s  (project %s)
  package:       %s
Huawei
  send:          %s
  token URL:     %s
  control:       %s
  CA:            %s
  credential:    %s  (app ID %s)
Xiaomi
  send:          %s
  control:       %s
  CA:            %s
  credential:    %s  (channel %s)
OPPO
  send:          %s
  control:       %s
  CA:            %s
  credential:    %s  (app key %s, channel %s)
vivo
  send:          %s
  control:       %s
  CA:            %s
  credential:    %s  (app ID %s)
Honor
  send:          %s
  token URL:     %s
  control:       %s
  CA:            %s
  credential:    %s  (app ID %s, client ID %s)
Web Push
  push service:  %s
  control:       %s
  CA:            %s
  credential:    %s  (VAPID public key %s)
Phones API
  url:           %s  (emulated phones: docs/emulated-phone.md)
`, dir, local.ManifestFile,
		m.APNs.ProductionURL, m.APNs.DevelopmentURL, m.APNs.ControlURL, m.APNs.CAFile,
		m.APNs.KeyFile, m.APNs.KeyID, m.APNs.TeamID, m.APNs.BundleID,
		m.FCM.URL, m.FCM.TokenURL, m.FCM.ControlURL, m.FCM.CAFile,
		m.FCM.ServiceAccountFile, m.FCM.ProjectID, m.FCM.PackageName,
		m.Huawei.URL, m.Huawei.TokenURL, m.Huawei.ControlURL, m.Huawei.CAFile, m.Huawei.CredentialFile, m.Huawei.AppID,
		m.Xiaomi.URL, m.Xiaomi.ControlURL, m.Xiaomi.CAFile, m.Xiaomi.CredentialFile, m.Xiaomi.ChannelID,
		m.OPPO.URL, m.OPPO.ControlURL, m.OPPO.CAFile, m.OPPO.CredentialFile, m.OPPO.AppKey, m.OPPO.ChannelID,
		m.Vivo.URL, m.Vivo.ControlURL, m.Vivo.CAFile, m.Vivo.CredentialFile, m.Vivo.AppID,
		m.Honor.URL, m.Honor.TokenURL, m.Honor.ControlURL, m.Honor.CAFile, m.Honor.CredentialFile, m.Honor.AppID, m.Honor.ClientID,
		m.WebPush.URL, m.WebPush.ControlURL, m.WebPush.CAFile, m.WebPush.CredentialFile, m.WebPush.PublicKey,
		m.Phones.URL)
	fmt.Fprintf(w, `HarmonyOS NEXT
  send:          %s
  control:       %s
  CA:            %s
  credential:    %s  (project %s)
`, m.Harmony.URL, m.Harmony.ControlURL, m.Harmony.CAFile, m.Harmony.CredentialFile, m.Harmony.ProjectID)
}

// emulatorLogger is the emulators' logger under serve: the server's.
func emulatorLogger(log *slog.Logger) *slog.Logger { return log.With("component", "emulator") }
