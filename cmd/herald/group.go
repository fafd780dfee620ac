package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	herald "github.com/heraldim/herald/sdk/go"
)

// Lines the group commands print.
type (
	groupLine struct {
		GroupID      string `json:"groupID"`
		Name         string `json:"name"`
		ExtendedData string `json:"extendedData,omitempty"`
		Owner        string `json:"owner"`
		MemberCount  int    `json:"memberCount"`
		CreatedAt    int64  `json:"createdAt"`
		MyRole       string `json:"myRole,omitempty"`   // owner, admin or member
		JoinMode     string `json:"joinMode,omitempty"` // any, approval or invite
		// Pending: a join request was filed, the owner or an admin answers.
		Pending bool `json:"pending,omitempty"`
	}
	memberLine struct {
		UserID   string `json:"userID"`
		Role     string `json:"role"` // owner, admin or member
		JoinedAt int64  `json:"joinedAt"`
	}
	groupUsersLine struct {
		GroupID     string   `json:"groupID"`
		UserIDs     []string `json:"userIDs"`
		MemberCount int      `json:"memberCount"`
	}
)

func groupLineOf(g herald.GroupFullInfo) groupLine {
	l := groupLine{GroupID: g.GroupID, Name: g.GroupName, ExtendedData: g.ExtendedData, Owner: g.OwnerUserID,
		MemberCount: g.MemberCount, CreatedAt: millis(g.CreatedAt)}
	if g.MyRole != 0 {
		l.MyRole = g.MyRole.String()
	}
	for name, m := range joinModes {
		if m == g.JoinMode {
			l.JoinMode = name
		}
	}
	return l
}

// joinModes are the --join-mode names.
var joinModes = map[string]herald.GroupJoinMode{
	"any": herald.GroupJoinModeAny, "approval": herald.GroupJoinModeAuth, "invite": herald.GroupJoinModeForbid,
}

func memberLinesOf(ms []herald.GroupMemberInfo) []memberLine {
	out := make([]memberLine, len(ms))
	for i, m := range ms {
		out[i] = memberLine{UserID: m.UserID, Role: m.MemberRole.String(), JoinedAt: millis(m.JoinedAt)}
	}
	return out
}

const groupExit = `

Exit status: 0 done; 3 the server refused (its error code and name are
printed on stderr, e.g. 40300 not_group_member); 1 any other failure.`

func newGroupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Create, join, leave and manage groups",
		Long: `Group commands. Each logs in as --as (platform "server", so they may run
beside the user's listen), makes its request, prints the result and logs
out. Send to a group with "herald send --group GROUP_ID"; members see its
messages and group events in "herald listen".

Roles: the owner (one per group) may do everything; admins may kick plain
members; any member may invite. Users must have logged in once to be added
to a group.`,
	}
	cmd.AddCommand(
		newGroupCreateCmd(),
		groupSubCmd("join GROUP_ID", "Join a group and print it as a JSON line", "Make --as a member of the group and print the group as a JSON line. A group\nof join mode approval files a join request instead (the line says\n\"pending\":true); one of mode invite refuses with 40303.", 1,
			func(ctx context.Context, c *herald.Client, out *jsonLines, args []string) error {
				g, err := c.JoinGroup(ctx, args[0])
				pending := errors.Is(err, herald.ErrGroupJoinPending)
				if err != nil && !pending {
					return serverError("group join", err)
				}
				l := groupLineOf(g)
				l.Pending = pending
				return out.print(l)
			}),
		groupSubCmd("leave GROUP_ID", "Leave a group", "Remove --as from the group. The owner cannot leave (40905): it transfers\nownership or dismisses the group.", 1,
			func(ctx context.Context, c *herald.Client, _ *jsonLines, args []string) error {
				return serverError("group leave", c.LeaveGroup(ctx, args[0]))
			}),
		groupSubCmd("dismiss GROUP_ID", "Dismiss a group (owner)", "Dismiss the group: every member is told, and every later request on it\nfails with 41000 group_dismissed.", 1,
			func(ctx context.Context, c *herald.Client, _ *jsonLines, args []string) error {
				return serverError("group dismiss", c.DismissGroup(ctx, args[0]))
			}),
		groupSubCmd("info GROUP_ID", "Print a group as a JSON line", "Print the group as a JSON line: groupID, name, owner, memberCount,\ncreatedAt (Unix ms) and myRole (members only).", 1,
			func(ctx context.Context, c *herald.Client, out *jsonLines, args []string) error {
				g, err := c.QueryGroupInfo(ctx, args[0])
				if err != nil {
					return serverError("group info", err)
				}
				return out.print(groupLineOf(g))
			}),
		groupSubCmd("invite GROUP_ID USER[,USER...]...", "Add users to a group", "Add the users to the group and print the users added and the member count\nas a JSON line.", 2,
			func(ctx context.Context, c *herald.Client, out *jsonLines, args []string) error {
				r, err := c.InviteUsersIntoGroup(ctx, userList(args[1:]...), args[0])
				if err != nil {
					return serverError("group invite", err)
				}
				return out.print(groupUsersLine{GroupID: r.GroupID, UserIDs: r.UserIDs, MemberCount: r.MemberCount})
			}),
		groupSubCmd("kick GROUP_ID USER[,USER...]...", "Remove members from a group (owner, admin)", "Remove the members from the group and print the users removed and the\nmember count as a JSON line.", 2,
			func(ctx context.Context, c *herald.Client, out *jsonLines, args []string) error {
				r, err := c.KickGroupMembers(ctx, userList(args[1:]...), args[0])
				if err != nil {
					return serverError("group kick", err)
				}
				return out.print(groupUsersLine{GroupID: r.GroupID, UserIDs: r.UserIDs, MemberCount: r.MemberCount})
			}),
		groupSubCmd("transfer GROUP_ID NEW_OWNER", "Make another member the owner (owner)", "Make NEW_OWNER, a member, the group's owner; --as becomes a plain member.", 2,
			func(ctx context.Context, c *herald.Client, _ *jsonLines, args []string) error {
				return serverError("group transfer", c.TransferGroupOwner(ctx, args[1], args[0]))
			}),
		groupSubCmd("set-role GROUP_ID USER admin|member", "Make a member an admin or a plain member (owner)", "Set USER's role in the group to admin or member.", 3,
			func(ctx context.Context, c *herald.Client, _ *jsonLines, args []string) error {
				var role herald.GroupMemberRole
				switch args[2] {
				case "admin":
					role = herald.GroupMemberRoleAdmin
				case "member":
					role = herald.GroupMemberRoleMember
				default:
					return fmt.Errorf("role %q: must be admin or member", args[2])
				}
				return serverError("group set-role", c.SetGroupMemberRole(ctx, role, args[1], args[0]))
			}),
		groupSubCmd("members GROUP_ID", "Print a group's members, one JSON line each", "Print every member of the group (all pages, in user ID order), one JSON\nline each: userID, role (owner, admin or member), joinedAt (Unix ms).", 1,
			func(ctx context.Context, c *herald.Client, out *jsonLines, args []string) error {
				cfg := herald.GroupMemberQueryConfig{Count: 100}
				for {
					ms, next, err := c.QueryGroupMemberList(ctx, args[0], cfg)
					if err != nil {
						return serverError("group members", err)
					}
					for _, l := range memberLinesOf(ms) {
						if err := out.print(l); err != nil {
							return err
						}
					}
					if next == "" || next == cfg.NextFlag || len(ms) == 0 {
						return nil
					}
					cfg.NextFlag = next
				}
			}),
		groupSubCmd("list", "Print the user's groups, one JSON line each", "Print every group --as is a member of, one JSON line each (as group info).", 0,
			func(ctx context.Context, c *herald.Client, out *jsonLines, _ []string) error {
				gs, err := c.QueryGroupList(ctx)
				if err != nil {
					return serverError("group list", err)
				}
				for _, g := range gs {
					if err := out.print(groupLineOf(g)); err != nil {
						return err
					}
				}
				return nil
			}),
		groupSubCmd("join-mode GROUP_ID any|approval|invite", "Change a group's join mode (owner, admins)", "Set how users who are not invited join: any (at once), approval (a join\nrequest the owner or an admin answers) or invite (refused: 40303).", 2,
			func(ctx context.Context, c *herald.Client, _ *jsonLines, args []string) error {
				m, ok := joinModes[args[1]]
				if !ok {
					return fmt.Errorf("join mode %q: must be any, approval or invite", args[1])
				}
				return serverError("group join-mode", c.UpdateGroupJoinMode(ctx, m, args[0]))
			}),
		groupSubCmd("applications GROUP_ID", "Print a group's join requests, one JSON line each (owner, admins)", "Print each user's latest request to join the group (all pages, in user\nID order), one JSON line each: groupID, userID, message, state (pending,\naccepted or rejected), createdAt, updatedAt (Unix ms).", 1,
			func(ctx context.Context, c *herald.Client, out *jsonLines, args []string) error {
				var cfg herald.GroupApplicationListQueryConfig
				for {
					as, next, err := c.QueryGroupApplicationList(ctx, args[0], cfg)
					if err != nil {
						return serverError("group applications", err)
					}
					for _, a := range as {
						if err := out.print(applicationLineOf(a)); err != nil {
							return err
						}
					}
					if next == "" || next == cfg.NextFlag || len(as) == 0 {
						return nil
					}
					cfg.NextFlag = next
				}
			}),
		groupSubCmd("accept GROUP_ID USER", "Accept a user's join request (owner, admins)", "Make USER, whose join request is pending, a member; no pending request\nis 40908 no_join_request.", 2,
			func(ctx context.Context, c *herald.Client, out *jsonLines, args []string) error {
				a, err := c.AcceptGroupJoinApplication(ctx, args[1], args[0])
				if err != nil {
					return serverError("group accept", err)
				}
				return out.print(applicationLineOf(a))
			}),
		groupSubCmd("reject GROUP_ID USER", "Reject a user's join request (owner, admins)", "Reject USER's pending join request; USER may ask again.", 2,
			func(ctx context.Context, c *herald.Client, out *jsonLines, args []string) error {
				a, err := c.RejectGroupJoinApplication(ctx, args[1], args[0])
				if err != nil {
					return serverError("group reject", err)
				}
				return out.print(applicationLineOf(a))
			}),
	)
	return cmd
}

// applicationLine is a join request as printed.
type applicationLine struct {
	Event     string `json:"event,omitempty"` // in listen: groupApplicationListChanged or groupApplicationUpdated
	GroupID   string `json:"groupID"`
	UserID    string `json:"userID"`
	Message   string `json:"message,omitempty"`
	State     string `json:"state"` // pending, accepted or rejected
	CreatedAt int64  `json:"createdAt"`
	UpdatedAt int64  `json:"updatedAt"`
}

func applicationLineOf(a herald.GroupApplicationInfo) applicationLine {
	state := map[herald.GroupApplicationState]string{herald.GroupApplicationStateWaiting: "pending",
		herald.GroupApplicationStateAccepted: "accepted", herald.GroupApplicationStateRejected: "rejected"}[a.State]
	return applicationLine{GroupID: a.GroupID, UserID: a.ApplyUserID, Message: a.Wording, State: state,
		CreatedAt: millis(a.CreatedAt), UpdatedAt: millis(a.UpdatedAt)}
}

// groupSubCmd builds a group subcommand taking nArgs arguments (at least
// nArgs when use ends with "...").
func groupSubCmd(use, short, long string, nArgs int, act func(ctx context.Context, c *herald.Client, out *jsonLines, args []string) error) *cobra.Command {
	var o oneShot
	args := cobra.ExactArgs(nArgs)
	if strings.HasSuffix(use, "...") {
		args = cobra.MinimumNArgs(nArgs)
	}
	cmd := &cobra.Command{
		Use:   use + " --as U",
		Short: short,
		Long:  long + groupExit,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := newJSONLines(cmd.OutOrStdout())
			return o.run(cmd, func(ctx context.Context, c *herald.Client) error { return act(ctx, c, out, args) })
		},
	}
	o.bind(cmd, "cli-group-", "timeout")
	return cmd
}

func newGroupCreateCmd() *cobra.Command {
	var (
		o                  oneShot
		id, name, extended string
		members            []string
		mode               string
	)
	cmd := &cobra.Command{
		Use:   "create --as U --name N [--members V,W] [--id G] [--join-mode M]",
		Short: "Create a group and print its ID",
		Long: `Create a group with --as as its owner and --members as plain members, and
print the group's ID (--id, or one the server makes). Members that cannot
be added (invalid IDs, users that never logged in: 40401 user_not_found)
are named on stderr and the group is created with the others; an --id in
use fails with 40901 group_exists. --join-mode is any, approval (the
server's default) or invite.` + groupExit,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg herald.GroupAdvancedConfig
			if mode != "" {
				m, ok := joinModes[mode]
				if !ok {
					return fmt.Errorf("group create: --join-mode %q: want any, approval or invite", mode)
				}
				cfg.JoinMode = &m
			}
			return o.run(cmd, func(ctx context.Context, c *herald.Client) error {
				r, err := c.CreateGroupWithConfig(ctx, herald.GroupInfo{GroupID: id, GroupName: name, ExtendedData: extended}, userList(members...), cfg)
				if err != nil {
					return serverError("group create", err)
				}
				for _, e := range r.ErrorUserList {
					fmt.Fprintf(cmd.ErrOrStderr(), "not added: %s: %d %s\n", e.UserID, e.Code, e.Reason)
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), r.GroupInfo.GroupID)
				return err
			})
		},
	}
	o.bind(cmd, "cli-group-", "timeout")
	fs := cmd.Flags()
	fs.StringVar(&name, "name", "", "group name")
	fs.StringSliceVar(&members, "members", nil, "comma-separated user IDs of the first members besides the owner")
	fs.StringVar(&id, "id", "", "group ID (default: one the server makes)")
	fs.StringVar(&extended, "extended-data", "", "opaque app data kept with the group")
	fs.StringVar(&mode, "join-mode", "", "how users who are not invited join: any, approval or invite (default: the server's, approval)")
	return cmd
}
