package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldim/herald/sdk/go"
)

// oneShot holds the flags of the commands that log in, make a request or
// two and log out (group, call). They log in on platform "server", so any
// number of them may run at once, even beside the user's listen.
type oneShot struct {
	opts    clientOptions
	as      string
	device  string
	ttl     time.Duration
	timeout time.Duration
	// devicePrefix + the user is the default device ID.
	devicePrefix string
}

// bind registers the flags; the device ID defaults to devicePrefix + the
// user, and timeoutFlag names the flag bounding login and requests.
func (o *oneShot) bind(cmd *cobra.Command, devicePrefix, timeoutFlag string) {
	o.devicePrefix = devicePrefix
	o.opts.bind(cmd, true)
	fs := cmd.Flags()
	fs.StringVar(&o.as, "as", "", "user ID to act as (required)")
	fs.StringVar(&o.device, "device", "", `device ID to log in with (default "`+devicePrefix+`" + the user)`)
	fs.DurationVar(&o.ttl, "ttl", time.Hour, "lifetime of the minted login token")
	fs.DurationVar(&o.timeout, timeoutFlag, 15*time.Second, "time allowed for login and the request")
	_ = cmd.MarkFlagRequired("as")
}

// run logs in, calls fn and logs out. fn's error wins over a failed
// logout, which matters only when fn succeeded.
func (o *oneShot) run(cmd *cobra.Command, fn func(ctx context.Context, c *herald.Client) error) error {
	appID, secret, err := o.opts.credentials(o.opts.token == "")
	if err != nil {
		return err
	}
	tok, err := o.opts.loginToken(appID, secret, o.as, o.ttl)
	if err != nil {
		return err
	}
	device := o.device
	if device == "" {
		device = o.devicePrefix + o.as
	}
	c, err := o.opts.newClient(appID, device, "server", cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer c.Destroy()
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	if err := c.Login(ctx, o.as, tok); err != nil {
		return serverError("login", err)
	}
	fnErr := fn(ctx, c)
	lctx, lcancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 5*time.Second)
	defer lcancel()
	logoutErr := c.Logout(lctx)
	if fnErr != nil {
		return fnErr
	}
	if logoutErr != nil {
		return serverError("logout", logoutErr)
	}
	return nil
}

// userList splits arguments of comma-separated user IDs into one list,
// dropping empty items.
func userList(args ...string) []string {
	var out []string
	for _, a := range args {
		for _, u := range strings.Split(a, ",") {
			if u = strings.TrimSpace(u); u != "" {
				out = append(out, u)
			}
		}
	}
	return out
}
