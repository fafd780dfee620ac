package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldim/herald/internal/protocol"
	herald "github.com/heraldim/herald/sdk/go"
)

// Lines the call commands and listen print.
type (
	callUserLine struct {
		UserID       string `json:"userID"`
		State        string `json:"state"` // inviting, received, accepted, rejected, cancelled, timeout, quit, ended
		ExtendedData string `json:"extendedData,omitempty"`
		UpdatedAt    int64  `json:"updatedAt,omitempty"`
	}
	callInfoLine struct {
		CallID       string         `json:"callID"`
		Inviter      string         `json:"inviter"`
		Mode         string         `json:"mode"` // general or advanced
		ExtendedData string         `json:"extendedData,omitempty"`
		CreatedAt    int64          `json:"createdAt"`
		Deadline     int64          `json:"deadline"`
		Ended        bool           `json:"ended"`
		Users        []callUserLine `json:"users"`
	}
)

func callUserLinesOf(us []herald.CallUserInfo) []callUserLine {
	out := make([]callUserLine, len(us))
	for i, u := range us {
		out[i] = callUserLine{UserID: u.UserID, State: u.State.String(), ExtendedData: u.ExtendedData, UpdatedAt: millis(u.UpdatedAt)}
	}
	return out
}

func callInfoLineOf(ci herald.CallInfo) callInfoLine {
	return callInfoLine{CallID: ci.CallID, Inviter: ci.Inviter, Mode: ci.Mode.String(), ExtendedData: ci.ExtendedData,
		CreatedAt: millis(ci.CreatedAt), Deadline: millis(ci.Deadline), Ended: ci.Ended, Users: callUserLinesOf(ci.CallUserList)}
}

const callExit = `

Exit status: 0 done; 3 the server refused (its error code and name are
printed on stderr, e.g. 41001 call_ended); 1 any other failure.`

// pushFlags are the push config flags of call invite and cancel.
type pushFlags struct{ title, content, payload, resourcesID string }

func (p *pushFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&p.title, "title", "", "push title")
	fs.StringVar(&p.content, "content", "", "push content")
	fs.StringVar(&p.payload, "payload", "", "push payload handed to the app")
	fs.StringVar(&p.resourcesID, "resources-id", "", "push resources ID")
}

// config returns the push config, nil when no flag was given.
func (p *pushFlags) config() *herald.PushConfig {
	if p.title == "" && p.content == "" && p.payload == "" && p.resourcesID == "" {
		return nil
	}
	return &herald.PushConfig{Title: p.title, Content: p.content, Payload: p.payload, ResourcesID: p.resourcesID}
}

func newCallCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "call",
		Short: "Call invitations: invite, accept, reject, cancel, ...",
		Long: `Call invitation commands (signalling only: the media go elsewhere). Each
logs in as --as (platform "server", so they may run beside the user's
listen), makes its request and logs out. Invitees see the invitation and
every state change in "herald listen"; offline invitees get a push when the
invitation carries a push config, and the invitation when they log in before
it times out.`,
	}
	cmd.AddCommand(
		newCallInviteCmd(),
		callAnswerCmd("accept", "Accept an invitation", func(ctx context.Context, c *herald.Client, id string, cfg herald.CallAnswerConfig) error {
			return c.CallAccept(ctx, id, cfg)
		}),
		callAnswerCmd("reject", "Reject an invitation", func(ctx context.Context, c *herald.Client, id string, cfg herald.CallAnswerConfig) error {
			return c.CallReject(ctx, id, cfg)
		}),
		newCallCancelCmd(),
		callAnswerCmd("join", "Join an advanced-mode call one was invited to", func(ctx context.Context, c *herald.Client, id string, cfg herald.CallAnswerConfig) error {
			_, err := c.CallJoin(ctx, id, cfg)
			return err
		}),
		callAnswerCmd("quit", "Quit an advanced-mode call", func(ctx context.Context, c *herald.Client, id string, cfg herald.CallAnswerConfig) error {
			return c.CallQuit(ctx, id, cfg)
		}),
		callAnswerCmd("end", "End an advanced-mode call for everyone", func(ctx context.Context, c *herald.Client, id string, cfg herald.CallAnswerConfig) error {
			return c.CallEnd(ctx, id, cfg)
		}),
		newCallInfoCmd(),
	)
	return cmd
}

func newCallInviteCmd() *cobra.Command {
	var (
		o                  oneShot
		push               pushFlags
		to                 []string
		timeout            int
		mode, extendedData string
	)
	cmd := &cobra.Command{
		Use:   "invite --as U --to V[,W] [--timeout 30] [--mode general|advanced] [--title T --content C]",
		Short: "Invite users to a call and print the call ID",
		Long: `Invite --to to a new call from --as and print the call ID. Invitees that
could not be invited are listed on stderr with the server's error code (the
call goes ahead with the others). A push config is attached when any of
--title, --content, --payload or --resources-id is given.

--timeout is how long the invitation rings, in seconds (default: the
server's, 90); --request-timeout bounds login and request.` + callExit,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := herald.CallInviteConfig{Timeout: time.Duration(timeout) * time.Second, ExtendedData: extendedData, PushConfig: push.config()}
			switch mode {
			case "general":
				cfg.Mode = herald.CallInvitationModeGeneral
			case "advanced":
				cfg.Mode = herald.CallInvitationModeAdvanced
			default:
				return fmt.Errorf("--mode %q: must be general or advanced", mode)
			}
			if timeout < 0 {
				return fmt.Errorf("--timeout %d: must be 1 to %d seconds", timeout, protocol.MaxCallTimeout)
			}
			return o.run(cmd, func(ctx context.Context, c *herald.Client) error {
				r, err := c.CallInvite(ctx, userList(to...), cfg)
				if err != nil {
					return serverError("call invite", err)
				}
				for _, e := range r.ErrorInvitees {
					fmt.Fprintf(cmd.ErrOrStderr(), "herald: call invite: %s not invited: %d %s: %s\n",
						e.UserID, e.Code, protocol.Code(e.Code).Name(), e.Reason)
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), r.CallID)
				return err
			})
		},
	}
	o.bind(cmd, "cli-call-", "request-timeout")
	push.bind(cmd)
	fs := cmd.Flags()
	fs.StringSliceVar(&to, "to", nil, "comma-separated user IDs to invite (required; at most 32)")
	fs.IntVar(&timeout, "timeout", 0, "seconds the invitation rings before it times out (0: the server's default, 90)")
	fs.StringVar(&mode, "mode", "general", "general (ends once everyone answered) or advanced (participants may invite, join, quit, end)")
	fs.StringVar(&extendedData, "extended-data", "", "opaque app data delivered with the invitation")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func newCallCancelCmd() *cobra.Command {
	var (
		o            oneShot
		push         pushFlags
		to           []string
		extendedData string
	)
	cmd := &cobra.Command{
		Use:   "cancel --as U CALL_ID [--to V[,W]] [--title T --content C]",
		Short: "Cancel one's invitations still unanswered",
		Long: `Cancel the invitations of --as to the call that are still unanswered: those
to --to, or all of them. Invitees it did not apply to are listed on stderr.
A push config (to offline invitees) is attached when any of --title,
--content, --payload or --resources-id is given.` + callExit,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, c *herald.Client) error {
				r, err := c.CallCancel(ctx, userList(to...), args[0], herald.CallCancelConfig{ExtendedData: extendedData, PushConfig: push.config()})
				if err != nil {
					return serverError("call cancel", err)
				}
				for _, e := range r.ErrorInvitees {
					fmt.Fprintf(cmd.ErrOrStderr(), "herald: call cancel: %s not cancelled: %d %s: %s\n",
						e.UserID, e.Code, protocol.Code(e.Code).Name(), e.Reason)
				}
				return nil
			})
		},
	}
	o.bind(cmd, "cli-call-", "request-timeout")
	push.bind(cmd)
	cmd.Flags().StringSliceVar(&to, "to", nil, "comma-separated invitees to cancel (default: all unanswered)")
	cmd.Flags().StringVar(&extendedData, "extended-data", "", "opaque app data delivered with the cancellation")
	return cmd
}

// callAnswerCmd builds a call subcommand that takes a call ID and
// --extended-data and prints nothing.
func callAnswerCmd(name, short string, act func(ctx context.Context, c *herald.Client, callID string, cfg herald.CallAnswerConfig) error) *cobra.Command {
	var (
		o            oneShot
		extendedData string
	)
	cmd := &cobra.Command{
		Use:   name + " --as U CALL_ID",
		Short: short,
		Long:  short + " as --as. The call's users see the state change in listen." + callExit,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, c *herald.Client) error {
				return serverError("call "+name, act(ctx, c, args[0], herald.CallAnswerConfig{ExtendedData: extendedData}))
			})
		},
	}
	o.bind(cmd, "cli-call-", "request-timeout")
	cmd.Flags().StringVar(&extendedData, "extended-data", "", "opaque app data delivered with the state change")
	return cmd
}

func newCallInfoCmd() *cobra.Command {
	var o oneShot
	cmd := &cobra.Command{
		Use:   "info --as U CALL_ID",
		Short: "Print a call and its users' states as a JSON line",
		Long: `Print the call as a JSON line: callID, inviter, mode, createdAt and deadline
(Unix ms), ended, and users with their states (inviting, received, accepted,
rejected, cancelled, timeout, quit, ended).` + callExit,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, c *herald.Client) error {
				ci, err := c.QueryCallInfo(ctx, args[0])
				if err != nil {
					return serverError("call info", err)
				}
				return newJSONLines(cmd.OutOrStdout()).print(callInfoLineOf(ci))
			})
		},
	}
	o.bind(cmd, "cli-call-", "request-timeout")
	return cmd
}
