package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	herald "github.com/heraldim/herald/sdk/go"
)

// sentLine is the JSON line send prints.
type sentLine struct {
	MessageID        string `json:"messageID"`
	LocalMessageID   string `json:"localMessageID"`
	ConversationID   string `json:"conversationID"`
	ConversationType int    `json:"conversationType"`
	Sender           string `json:"sender"`
	Seq              int64  `json:"seq,omitempty"`
	Type             int    `json:"type"`
	Priority         int    `json:"priority"`
	Timestamp        int64  `json:"timestamp"`
}

func newSendCmd() *cobra.Command {
	var (
		opts                                 clientOptions
		as, to, group, device, typ, priority string
		localID                              string
		title, content, payload, resourcesID string
		subType                              int
		b64                                  bool
		ttl, timeout                         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "send --as U (--to V | --group G) [flags] BODY",
		Short: "Send one message and print the result as a JSON line",
		Long: `Log in as --as (platform "server", so any number of sends may run in
parallel), send BODY to the user --to or the group --group (--as must be a
member), print the send result as one JSON line and log out. BODY is the
text of a text message, or the data of a custom or command message (raw, or
base64 with --base64). A push config is attached when any of --title,
--content, --payload or --resources-id is given; for a group it goes to
every member without a live session.

Exit status: 0 sent; 3 the server refused (its error code and message are
printed on stderr); 1 any other failure.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msg, err := buildMessage(typ, args[0], b64, subType)
			if err != nil {
				return err
			}
			msg.LocalMessageID = localID
			scfg := herald.MessageSendConfig{}
			if scfg.Priority, err = parsePriority(priority); err != nil {
				return err
			}
			if title != "" || content != "" || payload != "" || resourcesID != "" {
				scfg.PushConfig = &herald.PushConfig{Title: title, Content: content, Payload: payload, ResourcesID: resourcesID}
			}
			appID, secret, err := opts.credentials(opts.token == "")
			if err != nil {
				return err
			}
			tok, err := opts.loginToken(appID, secret, as, ttl)
			if err != nil {
				return err
			}
			if device == "" {
				device = "cli-send-" + as
			}
			c, err := opts.newClient(appID, device, "server", cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer c.Destroy()

			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := c.Login(ctx, as, tok); err != nil {
				return serverError("login", err)
			}
			convID, convType := to, herald.ConversationTypePeer
			if group != "" {
				convID, convType = group, herald.ConversationTypeGroup
			}
			sent, sendErr := c.SendMessage(ctx, msg, convID, convType, scfg)
			// Log out even after a failed send; a failed logout matters
			// only when the send succeeded.
			lctx, lcancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 5*time.Second)
			defer lcancel()
			logoutErr := c.Logout(lctx)
			if sendErr != nil {
				return serverError(fmt.Sprintf("send (localMessageID %s)", sent.LocalMessageID), sendErr)
			}
			if err := newJSONLines(cmd.OutOrStdout()).print(sentLine{
				MessageID:        sent.MessageID,
				LocalMessageID:   sent.LocalMessageID,
				ConversationID:   sent.ConversationID,
				ConversationType: int(sent.ConversationType),
				Sender:           sent.SenderUserID,
				Seq:              sent.ConversationSeq,
				Type:             int(sent.Type),
				Priority:         int(sent.Priority),
				Timestamp:        sent.Timestamp.UnixMilli(),
			}); err != nil {
				return err
			}
			if logoutErr != nil {
				return serverError("logout", logoutErr)
			}
			return nil
		},
	}
	opts.bind(cmd, true)
	fs := cmd.Flags()
	fs.StringVar(&as, "as", "", "sending user ID (required)")
	fs.StringVar(&to, "to", "", "receiving user ID (this or --group)")
	fs.StringVar(&group, "group", "", "receiving group ID (this or --to)")
	fs.StringVar(&device, "device", "", `device ID to log in with (default "cli-send-" + the sender)`)
	fs.StringVar(&typ, "type", "text", "message type: text, custom or command")
	fs.IntVar(&subType, "sub-type", 0, "sub-type of a custom message")
	fs.BoolVar(&b64, "base64", false, "BODY of a custom or command message is base64")
	fs.StringVar(&priority, "priority", "", "priority: low, medium or high (default medium)")
	fs.StringVar(&localID, "local-id", "", "local message ID (default random); resending with the same one stores the message once")
	fs.StringVar(&title, "title", "", "push title")
	fs.StringVar(&content, "content", "", "push content")
	fs.StringVar(&payload, "payload", "", "push payload handed to the app")
	fs.StringVar(&resourcesID, "resources-id", "", "push resources ID")
	fs.DurationVar(&ttl, "ttl", time.Hour, "lifetime of the minted login token")
	fs.DurationVar(&timeout, "timeout", 15*time.Second, "time allowed for login and send")
	_ = cmd.MarkFlagRequired("as")
	cmd.MarkFlagsOneRequired("to", "group")
	cmd.MarkFlagsMutuallyExclusive("to", "group")
	return cmd
}

func buildMessage(typ, body string, b64 bool, subType int) (herald.Message, error) {
	data := []byte(body)
	if b64 {
		var err error
		if data, err = base64.StdEncoding.DecodeString(body); err != nil {
			return herald.Message{}, fmt.Errorf("--base64: %w", err)
		}
	}
	switch typ {
	case "text":
		if b64 {
			return herald.Message{}, fmt.Errorf("--base64 applies to custom and command messages")
		}
		return herald.NewTextMessage(body), nil
	case "custom":
		return herald.NewCustomMessage(data, subType), nil
	case "command":
		return herald.NewCommandMessage(data), nil
	}
	return herald.Message{}, fmt.Errorf("--type %q: must be text, custom or command", typ)
}

func parsePriority(p string) (herald.MessagePriority, error) {
	switch p {
	case "":
		return 0, nil
	case "low":
		return herald.MessagePriorityLow, nil
	case "medium":
		return herald.MessagePriorityMedium, nil
	case "high":
		return herald.MessagePriorityHigh, nil
	}
	return 0, fmt.Errorf("--priority %q: must be low, medium or high", p)
}
