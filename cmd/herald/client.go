package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/devapp"
	herald "github.com/heraldim/herald/sdk/go"
)

// Exit codes of the client commands, besides 0 and 1 (any other failure).
const (
	exitServerError  = 3 // the server refused the request; its code and message are on stderr
	exitKicked       = 4 // listen: another login of the user took the session's place
	exitTokenExpired = 5 // listen: the token expired
)

// clientOptions are the flags the client commands (token, send, listen)
// share. Each has an environment variable of the same name.
type clientOptions struct {
	server  string
	data    string
	appID   string
	secret  string
	token   string
	verbose bool
}

func clientEnv(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// bind registers the shared flags. withToken adds --token, for commands
// that log in.
func (o *clientOptions) bind(cmd *cobra.Command, withToken bool) {
	fs := cmd.Flags()
	fs.StringVar(&o.server, "server", clientEnv("HERALD_SERVER", herald.DefaultServer), "server URL (env HERALD_SERVER)")
	fs.StringVar(&o.data, "data", clientEnv("HERALD_DATA", "./herald-data"), "data directory of a local server, holding the dev app's credentials (env HERALD_DATA)")
	fs.StringVar(&o.appID, "app-id", clientEnv("HERALD_APP_ID", ""), "app ID (env HERALD_APP_ID; default: the dev app's)")
	fs.StringVar(&o.secret, "secret", clientEnv("HERALD_SECRET", ""), "app server secret that signs login tokens (env HERALD_SECRET; default: the dev app's)")
	if withToken {
		fs.StringVar(&o.token, "token", clientEnv("HERALD_TOKEN", ""), "login token to use instead of minting one with the secret (env HERALD_TOKEN)")
		fs.BoolVarP(&o.verbose, "verbose", "v", false, "log the SDK's diagnostics on stderr")
	}
}

// credentials returns the app ID and secret: from the flags, completed from
// the dev app in the data directory. needSecret is false when a token was
// given.
func (o *clientOptions) credentials(needSecret bool) (appID, secret string, err error) {
	appID, secret = o.appID, o.secret
	if appID != "" && (secret != "" || !needSecret) {
		return appID, secret, nil
	}
	dev, err := devapp.Load(o.data)
	if err != nil {
		if errors.Is(err, devapp.ErrNoDevApp) {
			return "", "", fmt.Errorf("%w (data directory %s), or pass --app-id and --secret", err, o.data)
		}
		return "", "", err
	}
	if appID == "" {
		appID = dev.AppID
	}
	if secret == "" && appID == dev.AppID {
		secret = dev.Secret
	}
	if needSecret && secret == "" {
		return "", "", fmt.Errorf("no secret for app %s: pass --secret", appID)
	}
	return appID, secret, nil
}

// loginToken returns the --token or mints one for user.
func (o *clientOptions) loginToken(appID, secret, user string, ttl time.Duration) (string, error) {
	if o.token != "" {
		return o.token, nil
	}
	return herald.GenerateToken(appID, secret, user, ttl)
}

// newClient creates an SDK client for the options.
// A "server" platform client is a sender: it skips the offline sync.
func (o *clientOptions) newClient(appID, deviceID, platform string, stderr io.Writer) (*herald.Client, error) {
	return o.newPushClient(appID, deviceID, platform, stderr, nil)
}

// newPushClient is newClient for a device that registers its push channel
// at login (nil: none).
func (o *clientOptions) newPushClient(appID, deviceID, platform string, stderr io.Writer, reg *herald.PushRegistration) (*herald.Client, error) {
	lvl := slog.LevelWarn
	if o.verbose {
		lvl = slog.LevelDebug
	}
	return herald.Create(herald.Config{
		Server:   o.server,
		AppID:    appID,
		DeviceID: deviceID,
		Platform: platform,
		// A sender has no use for its backlog.
		SkipOfflineSync: platform == "server",
		Logger:          slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})),
		Push:            reg,
	})
}

// serverError turns an error the server returned into an exit code 3 with
// its code and message; other errors keep exit code 1. Either way the
// message starts with op instead of the SDK's own "herald: <op>:" prefix
// (main prints "herald:"). A nil err stays nil.
func serverError(op string, err error) error {
	if err == nil {
		return nil
	}
	var he *herald.Error
	if errors.As(err, &he) {
		return &exitError{code: exitServerError, err: fmt.Errorf("%s: %w", op, he)}
	}
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	return fmt.Errorf("%s: %w", op, err)
}

// jsonLines writes one JSON object per line. Each line is one write to an
// unbuffered writer (os.Stdout), so a reader sees it at once.
type jsonLines struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newJSONLines(w io.Writer) *jsonLines {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonLines{enc: enc}
}

func (j *jsonLines) print(v any) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.enc.Encode(v)
}
