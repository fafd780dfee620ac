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

	"github.com/heraldim/herald/internal/operatorkey"
)

// operatorOptions are the flags of the app commands, which call the
// operator API (/v1/admin/apps).
type operatorOptions struct {
	server string
	data   string
	key    string
}

// newAppCmd manages the server's apps (tenants) through the operator API.
func newAppCmd() *cobra.Command {
	var o operatorOptions
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Create and manage apps (tenants) through the operator API",
		Long: `Create, list, show, rotate, disable, enable and delete the server's apps
through the operator REST API (/v1/admin/apps). Each command prints the
server's answer as one JSON line (list: one line per app). The operator key
is --operator-key, else HERALD_OPERATOR_KEY, else the one a local server
generated into its data directory (--data). Exits 3 when the server refused
the request (its code and message on stderr), 2 on bad usage, 1 on any
other failure.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.server, "server", clientEnv("HERALD_SERVER", "http://127.0.0.1:8080"), "server URL, http(s):// or ws(s):// (env HERALD_SERVER)")
	pf.StringVar(&o.data, "data", clientEnv("HERALD_DATA", "./herald-data"), "data directory of a local server, holding its generated operator key (env HERALD_DATA)")
	pf.StringVar(&o.key, "operator-key", clientEnv("HERALD_OPERATOR_KEY", ""), "the server's operator key (env HERALD_OPERATOR_KEY; default: the data directory's)")

	var id string
	create := &cobra.Command{
		Use:   "create NAME [--id ID]",
		Short: "Create an app; prints its ID, server secret and admin key (shown this once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.call(cmd, http.MethodPost, "/v1/admin/apps", map[string]string{"id": id, "name": args[0]})
		},
	}
	create.Flags().StringVar(&id, "id", "", "the app's ID (default: one the server picks)")

	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List the apps, one JSON line each (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 1000 {
				return &exitError{code: 2, err: errors.New("--page must be 1 to 1000")}
			}
			return o.list(cmd, limit)
		},
	}
	list.Flags().IntVar(&limit, "page", 100, "apps asked for per request (1 to 1000)")

	show := &cobra.Command{
		Use:   "show APP_ID",
		Short: "Show an app: name, state, rotation overlaps (never its secrets)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.call(cmd, http.MethodGet, appPath(args[0], ""), nil)
		},
	}

	var which string
	var overlap time.Duration
	rotate := &cobra.Command{
		Use:   "rotate APP_ID --which secret|adminKey [--overlap 24h]",
		Short: "Replace the app's server secret or admin key; prints the new value (shown this once)",
		Long: `Replace the app's server secret (--which secret) or admin key (--which
adminKey). The previous value keeps working for --overlap (default the
server's, 24h; at most 720h; 0 refuses it at once, for a leaked value), so
that clients and the app's backend move to the new one without an outage.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"which": which}
			if cmd.Flags().Changed("overlap") {
				if overlap < 0 || overlap%time.Second != 0 {
					return &exitError{code: 2, err: errors.New("--overlap must be a whole number of seconds, 0 or more")}
				}
				body["overlapSeconds"] = int64(overlap / time.Second)
			}
			return o.call(cmd, http.MethodPost, appPath(args[0], "/rotate"), body)
		},
	}
	rotate.Flags().StringVar(&which, "which", "", `"secret" or "adminKey"`)
	rotate.Flags().DurationVar(&overlap, "overlap", 0, "how long the previous value keeps working (default: the server's, 24h)")

	disable := &cobra.Command{
		Use:   "disable APP_ID",
		Short: "Disable an app: its sessions are closed (4006), logins and its admin API refused",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.call(cmd, http.MethodPost, appPath(args[0], "/disable"), nil)
		},
	}
	enable := &cobra.Command{
		Use:   "enable APP_ID",
		Short: "Enable a disabled app again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.call(cmd, http.MethodPost, appPath(args[0], "/enable"), nil)
		},
	}
	del := &cobra.Command{
		Use:   "delete APP_ID",
		Short: "Delete a disabled app with all its data (its ID is never reused)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.call(cmd, http.MethodDelete, appPath(args[0], ""), nil); err != nil {
				return err
			}
			b, _ := json.Marshal(map[string]any{"id": args[0], "deleted": true})
			_, err := fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return err
		},
	}
	cmd.AddCommand(create, list, show, rotate, disable, enable, del)
	return cmd
}

func appPath(id, rest string) string { return "/v1/admin/apps/" + url.PathEscape(id) + rest }

// operatorKey returns the key from the flag or environment, or else the
// local server's generated one.
func (o *operatorOptions) operatorKey() (string, error) {
	if o.key != "" {
		return o.key, nil
	}
	k, err := operatorkey.Load(o.data)
	if errors.Is(err, operatorkey.ErrNoKey) {
		return "", &exitError{code: 2, err: fmt.Errorf("%w (data directory %s)", err, o.data)}
	}
	return k, err
}

// call sends one request and prints its JSON answer as one line (nothing
// for an empty answer).
func (o *operatorOptions) call(cmd *cobra.Command, method, path string, body any) error {
	out, err := o.do(cmd, method, path, body)
	if err != nil || len(out) == 0 {
		return err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return fmt.Errorf("%s %s: answer is not JSON: %w", method, path, err)
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), buf.String())
	return err
}

// list prints every app, following the pages.
func (o *operatorOptions) list(cmd *cobra.Command, limit int) error {
	after := ""
	for {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if after != "" {
			q.Set("after", after)
		}
		out, err := o.do(cmd, http.MethodGet, "/v1/admin/apps?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		var page struct {
			Apps []json.RawMessage `json:"apps"`
			Next string            `json:"next"`
		}
		if err := json.Unmarshal(out, &page); err != nil {
			return fmt.Errorf("list apps: answer is not the documented JSON: %w", err)
		}
		for _, a := range page.Apps {
			var buf bytes.Buffer
			if err := json.Compact(&buf, a); err != nil {
				return err
			}
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), buf.String()); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

// do sends one request with the operator key and returns the answer's
// body; a refusal is an exit code 3 with the server's code and message.
func (o *operatorOptions) do(cmd *cobra.Command, method, path string, body any) ([]byte, error) {
	key, err := o.operatorKey()
	if err != nil {
		return nil, err
	}
	base, err := httpBase(o.server)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, base+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(out, &e)
		what := strings.TrimPrefix(cmd.CommandPath(), "herald ")
		return nil, &exitError{code: exitServerError, err: fmt.Errorf("%s: %d %s", what, e.Code, e.Message)}
	}
	return out, nil
}
