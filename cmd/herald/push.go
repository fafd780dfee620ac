package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/devapp"
)

// newPushCmd is the console's "online debugging": one test push to a
// PushID through the admin API, printing the vendor's answer.
func newPushCmd() *cobra.Command {
	var (
		opts                            clientOptions
		adminKey, pushID                string
		title, content, payload, server string
		resourcesID                     string
	)
	cmd := &cobra.Command{
		Use:   "push --push-id ID --title T --content C [--payload P] [--resources-id R]",
		Short: "Send a test push to a PushID and print the vendor's answer",
		Long: `Send one test push to a device through the admin REST API
(POST /v1/apps/{appID}/push/test) and print the vendor's answer as one JSON
line: outcome, HTTP status, vendor reason and ID, latency. The app and its
admin key default to the dev app's (--data). Exits 3 when the server refused
the request, 1 on any other failure; a vendor's refusal (e.g. drop_device)
is an answer, printed with exit 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pushID == "" {
				return &exitError{code: 2, err: errors.New("--push-id is required")}
			}
			appID, key := opts.appID, adminKey
			if appID == "" || key == "" {
				dev, err := devapp.Load(opts.data)
				if err != nil {
					return fmt.Errorf("%w, or pass --app-id and --admin-key", err)
				}
				if appID == "" {
					appID = dev.AppID
				}
				if key == "" && appID == dev.AppID {
					key = dev.AdminKey
				}
			}
			if key == "" {
				return &exitError{code: 2, err: fmt.Errorf("no admin key for app %s: pass --admin-key", appID)}
			}
			base, err := httpBase(server)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			body, _ := json.Marshal(map[string]string{"pushID": pushID, "title": title, "content": content, "payload": payload, "resourcesID": resourcesID})
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost,
				base+"/v1/apps/"+url.PathEscape(appID)+"/push/test", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				var e struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				}
				_ = json.Unmarshal(out, &e)
				return &exitError{code: exitServerError, err: fmt.Errorf("test push: %d %s", e.Code, e.Message)}
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), strings.TrimSpace(string(out)))
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&server, "server", clientEnv("HERALD_SERVER", "http://127.0.0.1:8080"), "server URL, http(s):// or ws(s):// (env HERALD_SERVER)")
	fs.StringVar(&opts.data, "data", clientEnv("HERALD_DATA", "./herald-data"), "data directory of a local server, holding the dev app's credentials (env HERALD_DATA)")
	fs.StringVar(&opts.appID, "app-id", clientEnv("HERALD_APP_ID", ""), "app ID (env HERALD_APP_ID; default: the dev app's)")
	fs.StringVar(&adminKey, "admin-key", clientEnv("HERALD_ADMIN_KEY", ""), "the app's admin key (env HERALD_ADMIN_KEY; default: the dev app's)")
	fs.StringVar(&pushID, "push-id", "", "the device's PushID")
	fs.StringVar(&title, "title", "", "notification title")
	fs.StringVar(&content, "content", "", "notification content")
	fs.StringVar(&payload, "payload", "", "custom data handed to the app")
	fs.StringVar(&resourcesID, "resources-id", "", "a push resource whose delivery options apply")
	return cmd
}

// httpBase turns a server URL (ws://host:port/v1/ws, http://host:port, or
// host:port) into the HTTP base URL.
func httpBase(server string) (string, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bad --server %q", server)
	}
	switch u.Scheme {
	case "ws", "http":
		u.Scheme = "http"
	case "wss", "https":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("bad --server scheme %q", u.Scheme)
	}
	return u.Scheme + "://" + u.Host, nil
}
