package main

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/emulator/local"
	"github.com/heraldim/herald/internal/push"
	herald "github.com/heraldim/herald/sdk/go"
)

// Lines device prints besides local.Event.
type (
	registeredLine struct {
		Event     string `json:"event"` // "registered"
		PushID    string `json:"pushID"`
		ErrorCode int    `json:"errorCode"`
		Vendor    string `json:"vendor"`
		Token     string `json:"token"`
		VoIPToken string `json:"voipToken,omitempty"`
	}
	appStateLine struct {
		Event  string `json:"event"` // "appStateChanged"
		State  string `json:"state"`
		Online bool   `json:"online"`
	}
)

func newDeviceCmd() *cobra.Command {
	var (
		opts                       clientOptions
		vendor, user, state, devID string
		debug, voip                bool
		permissions                []string
		ttl                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "device --vendor apns|fcm|huawei|xiaomi|oppo|vivo|harmony|honor|webpush --user U [--debug] [--voip] [--state S]",
		Short: "Play a phone: register with an emulator, log in, go offline, show the pushes",
		Long: `Play a phone with the app on it, against the emulators of "herald serve
--emulate" or "herald emulate" (their control APIs are read from
emulators.json in --data):

 1. register with the vendor's emulator as the push SDK does (registerPush;
    --debug: a development build, the APNs sandbox; --voip: also a PushKit
    token, APNs only; --permission: a vendor permission the app holds,
    e.g. huawei-high-priority-pass-through) and log in as --user with that
    push channel, which binds the device's PushID to the user; print
    {"event":"registered","pushID":...,"errorCode":0};
 2. enter the app state --state. background and killed drop the connection
    without logging out, as a frozen or killed app does: the binding stays
    and the server pushes to the device. foreground stays connected: the
    server then delivers messages over the connection (printed as "message"
    lines) and pushes nothing; only pushes sent some other way reach it;
 3. until interrupted, print what the phone does with every push the
    emulator delivers to it: "notificationDisplayed" when the system shows
    it, and the push SDK's callbacks "notificationArrived" and
    "throughMessageReceived" exactly where the seed's table says the vendor
    raises them in that app state, with title, content and payload. A
    pass-through (data) push is not displayed; Xiaomi, OPPO and vivo raise
    no callback for it, Huawei throughMessageReceived only with
    --permission huawei-high-priority-pass-through, Honor only while the
    app runs (foreground or background). A VoIP push (--voip)
    is "voipPushReceived": PushKit hands it to the app in every state.

The device never logs out, so its binding survives it; "herald device" of
another user with the same --device takes the binding over.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := push.ParseAppState(state)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			v := push.Vendor(vendor)
			if !slices.Contains(push.Vendors, v) {
				return &exitError{code: 2, err: fmt.Errorf("--vendor %q: the emulators are apns, fcm, huawei, xiaomi, oppo, vivo, harmony, honor and webpush", vendor)}
			}
			m, err := local.LoadManifest(opts.data)
			if err != nil {
				return err
			}
			appID, secret, err := opts.credentials(opts.token == "")
			if err != nil {
				return err
			}
			tok, err := opts.loginToken(appID, secret, user, ttl)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			dev, err := local.RegisterDevice(ctx, m, v, debug, voip, nil)
			if err != nil {
				return err
			}
			if len(permissions) > 0 {
				dev.Permissions = make(map[string]bool, len(permissions))
				for _, p := range permissions {
					dev.Permissions[p] = true
				}
			}
			if devID == "" {
				devID = "cli-device-" + vendor + "-" + user
			}
			c, err := opts.newPushClient(appID, devID, local.PlatformOf(v), cmd.ErrOrStderr(), &herald.PushRegistration{
				Vendor: vendor, Token: dev.Token, VoIPToken: dev.VoIPToken, Debug: debug, BundleID: dev.BundleID})
			if err != nil {
				return err
			}
			defer c.Destroy()
			out := newJSONLines(cmd.OutOrStdout())
			if st == push.StateForeground {
				l := &listener{c: c, out: out, ended: make(chan herald.ConnectionEvent, 1), stopped: make(chan struct{})}
				c.SetEventHandler(l.handler())
			}
			canonical, err := push.CanonicalToken(v, dev.Token)
			if err != nil {
				return err
			}
			reg := registeredLine{Event: "registered", PushID: push.NewPushID(appID, v, dev.Environment, canonical),
				Vendor: vendor, Token: dev.Token, VoIPToken: dev.VoIPToken}
			if err := c.Login(ctx, user, tok); err != nil {
				var he *herald.Error
				if errors.As(err, &he) {
					reg.ErrorCode = he.Code
				} else {
					reg.ErrorCode = -1
				}
				_ = out.print(reg)
				return serverError("login", err)
			}
			// The server's PushID, as the seed's registered event reports it.
			reg.PushID = c.PushID()
			if err := out.print(reg); err != nil {
				return err
			}
			if st != push.StateForeground {
				// A frozen or killed app: the connection goes, the binding
				// stays (no logout).
				c.Destroy()
			}
			if err := out.print(appStateLine{Event: "appStateChanged", State: string(st), Online: st == push.StateForeground}); err != nil {
				return err
			}
			return dev.Watch(ctx, func() push.AppState { return st }, func(e local.Event) { _ = out.print(e) })
		},
	}
	opts.bind(cmd, true)
	fs := cmd.Flags()
	fs.StringVar(&vendor, "vendor", "", "push vendor of the phone: apns, fcm, huawei, xiaomi, oppo, vivo, harmony, honor or webpush (a browser) (required)")
	fs.StringVar(&user, "user", "", "user ID to log in as (required)")
	fs.BoolVar(&debug, "debug", false, "a development build (enableDebug): APNs sandbox, development PushID")
	fs.BoolVar(&voip, "voip", false, "also register a PushKit (VoIP) token (APNs only)")
	fs.StringSliceVar(&permissions, "permission", nil, "a vendor permission the app was granted (repeatable): "+push.PermissionHuaweiHighPriorityPassThrough)
	fs.StringVar(&state, "state", string(push.StateBackground), "app state after login: foreground, background or killed")
	fs.StringVar(&devID, "device", "", `device ID (default "cli-device-" + vendor + "-" + user)`)
	fs.DurationVar(&ttl, "ttl", time.Hour, "lifetime of the minted login token")
	_ = cmd.MarkFlagRequired("vendor")
	_ = cmd.MarkFlagRequired("user")
	return cmd
}
