package im

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/heraldim/herald/internal/protocol"
)

// Recipient is a group member as routing sees it: it may see the group's
// messages with Seq > Floor (those sent after it joined).
type Recipient struct {
	UserID string
	Floor  int64
}

type groupKey struct{ app, group string }

// groupSnap is an immutable view of a group and its members. Changes build
// a new one (copy on write) under the group's lock.
type groupSnap struct {
	group   Group
	members map[string]GroupMember
	recips  []Recipient // every member, for routing
}

func newSnap(g Group, ms []GroupMember) *groupSnap {
	sn := &groupSnap{group: g, members: make(map[string]GroupMember, len(ms)), recips: make([]Recipient, 0, len(ms))}
	for _, m := range ms {
		sn.members[m.UserID] = m
		sn.recips = append(sn.recips, Recipient{UserID: m.UserID, Floor: m.JoinedSeq})
	}
	sn.group.MemberCount = len(ms)
	return sn
}

// with returns a copy of sn with members added, changed or (role 0)
// removed.
func (sn *groupSnap) with(change map[string]GroupMember) *groupSnap {
	ms := make([]GroupMember, 0, len(sn.members)+len(change))
	for u, m := range sn.members {
		if _, ok := change[u]; !ok {
			ms = append(ms, m)
		}
	}
	for _, m := range change {
		if m.Role != 0 {
			ms = append(ms, m)
		}
	}
	return newSnap(sn.group, ms)
}

// The cache is bounded by groups and by members held (about 150 bytes
// each): past either it is emptied, and groups load again as they are used
// (two reads each).
const (
	groupCacheMax        = 50000
	groupCacheMaxMembers = 1 << 20
)

// groupCache holds the groups in use, and a striped lock per group that
// serialises its membership changes and loads.
type groupCache struct {
	mu      sync.RWMutex
	m       map[groupKey]*groupSnap
	members int // members of the cached groups
	seed    maphash.Seed
	locks   [256]sync.Mutex
}

func newGroupCache() *groupCache {
	return &groupCache{m: map[groupKey]*groupSnap{}, seed: maphash.MakeSeed()}
}

func (c *groupCache) lock(k groupKey) *sync.Mutex {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(k.app)
	h.WriteByte(0)
	h.WriteString(k.group)
	return &c.locks[h.Sum64()%uint64(len(c.locks))]
}

func (c *groupCache) get(k groupKey) *groupSnap {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[k]
}

func (c *groupCache) put(k groupKey, sn *groupSnap) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok {
		c.members -= len(old.members)
	}
	if len(c.m) >= groupCacheMax || c.members+len(sn.members) > groupCacheMaxMembers {
		clear(c.m)
		c.members = 0
	}
	c.m[k] = sn
	c.members += len(sn.members)
}

func (c *groupCache) drop(k groupKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok {
		c.members -= len(old.members)
		delete(c.m, k)
	}
}

// ForgetGroup drops the cached snapshot of a group, after another node
// changed it in the store (Config.GroupChanged there): the next use reads
// it again.
func (s *Service) ForgetGroup(appID, groupID string) {
	k := groupKey{appID, groupID}
	l := s.groups.lock(k)
	l.Lock()
	defer l.Unlock()
	s.groups.drop(k)
}

// ForgetAll drops every cached app, group and revocation cut-off: a node
// of a cluster that lost the bus for a while may have missed their
// invalidations.
func (s *Service) ForgetAll() {
	s.appMu.Lock()
	clear(s.apps)
	s.appGen++
	s.appMu.Unlock()
	s.groups.mu.Lock()
	clear(s.groups.m)
	s.groups.members = 0
	s.groups.mu.Unlock()
	s.revoked.mu.Lock()
	s.revoked.gen++
	clear(s.revoked.after)
	s.revoked.mu.Unlock()
	s.rules.forgetAll() // and push rules (pushrule.go)
}

// groupChanged tells Config.GroupChanged that a group's change was
// written.
func (s *Service) groupChanged(k groupKey) {
	if s.cfg.GroupChanged != nil {
		s.cfg.GroupChanged(k.app, k.group)
	}
}

// group returns a group's snapshot, loading it on a miss. Errors are
// *protocol.Error for a group that does not exist.
func (s *Service) group(ctx context.Context, appID, groupID string) (*groupSnap, error) {
	k := groupKey{appID, groupID}
	if sn := s.groups.get(k); sn != nil {
		return sn, nil
	}
	l := s.groups.lock(k)
	l.Lock()
	defer l.Unlock()
	return s.groupLocked(ctx, k)
}

// groupLocked is group for a caller holding the group's lock.
func (s *Service) groupLocked(ctx context.Context, k groupKey) (*groupSnap, error) {
	if sn := s.groups.get(k); sn != nil {
		return sn, nil
	}
	g, err := s.store.Group(ctx, k.app, k.group)
	if errors.Is(err, ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeGroupNotFound, "")
	}
	if err != nil {
		return nil, fmt.Errorf("im: group: %w", err)
	}
	ms, err := s.store.GroupMembers(ctx, k.app, k.group, "", 0)
	if err != nil {
		return nil, fmt.Errorf("im: group members: %w", err)
	}
	sn := newSnap(g, ms)
	s.groups.put(k, sn)
	return sn, nil
}

// memberOf returns the group's snapshot and the user's membership; the
// errors say why the user may not act in the group.
func (s *Service) memberOf(ctx context.Context, appID, userID, groupID string) (*groupSnap, GroupMember, error) {
	if !protocol.ValidGroupID(groupID) {
		return nil, GroupMember{}, protocol.GroupIDError()
	}
	sn, err := s.group(ctx, appID, groupID)
	if err != nil {
		return nil, GroupMember{}, err
	}
	return checkMember(sn, userID)
}

func checkMember(sn *groupSnap, userID string) (*groupSnap, GroupMember, error) {
	if !sn.group.DismissedAt.IsZero() {
		return nil, GroupMember{}, protocol.Errorf(protocol.CodeGroupDismissed, "")
	}
	m, ok := sn.members[userID]
	if !ok {
		return nil, GroupMember{}, protocol.Errorf(protocol.CodeNotGroupMember, "")
	}
	return sn, m, nil
}

// groupOp runs a membership change of a group under its lock: fn checks the
// change against the current snapshot, writes it and returns the new
// snapshot (nil: unchanged).
func (s *Service) groupOp(ctx context.Context, appID, groupID string, fn func(sn *groupSnap) (*groupSnap, error)) (*groupSnap, error) {
	if !protocol.ValidGroupID(groupID) {
		return nil, protocol.GroupIDError()
	}
	k := groupKey{appID, groupID}
	l := s.groups.lock(k)
	l.Lock()
	defer l.Unlock()
	sn, err := s.groupLocked(ctx, k)
	if err != nil {
		return nil, err
	}
	next, err := fn(sn)
	if err != nil {
		return nil, err
	}
	if next == nil {
		return sn, nil
	}
	s.groups.put(k, next)
	s.groupChanged(k)
	return next, nil
}

// Actor is who asks for a group change: a user, whose membership and role
// are checked, or the app's server (the admin REST API), which may do what
// the owner may without being a member, and whose changes the events
// report with an empty operatedBy.
type Actor struct {
	userID string
	server bool
}

// AsUser is the actor of a request of user id.
func AsUser(id string) Actor { return Actor{userID: id} }

// AppServer is the actor of the app's server.
func AppServer() Actor { return Actor{server: true} }

// roleServer is the app server's rank: above the owner's (1).
const roleServer = 0

// by is the operatedBy of the actor's changes.
func (a Actor) by() string { return a.userID }

// me returns the actor's membership of the group of sn: the app's server is
// a member of every group that was not dismissed, with roleServer.
func (a Actor) me(sn *groupSnap) (GroupMember, error) {
	if a.server {
		if !sn.group.DismissedAt.IsZero() {
			return GroupMember{}, protocol.Errorf(protocol.CodeGroupDismissed, "")
		}
		return GroupMember{Role: roleServer}, nil
	}
	_, m, err := checkMember(sn, a.userID)
	return m, err
}

// isAdmin reports whether a member of role r may manage the group (join
// mode, join requests).
func isAdmin(r int) bool { return r <= protocol.RoleAdmin }

// admit splits valid user IDs into users of the app and errors for the
// others. The app's server names users who may not have logged in yet:
// they are recorded as users of the app, and see the group at their first
// login.
func (s *Service) admit(ctx context.Context, appID string, a Actor, users []string) ([]string, []UserError, error) {
	if len(users) == 0 {
		return nil, nil, nil
	}
	if a.server {
		for _, u := range users {
			if err := s.store.RecordUser(ctx, appID, u); err != nil {
				return nil, nil, fmt.Errorf("im: record user: %w", err)
			}
		}
		return users, nil, nil
	}
	unknown, err := s.UnknownUsers(ctx, appID, users)
	if err != nil {
		return nil, nil, err
	}
	if len(unknown) == 0 {
		return users, nil, nil
	}
	ok := make([]string, 0, len(users))
	var errs []UserError
	for _, u := range users {
		if slices.Contains(unknown, u) {
			errs = append(errs, UserError{UserID: u, Code: protocol.CodeUserNotFound, Message: "no such user"})
			continue
		}
		ok = append(ok, u)
	}
	return ok, errs, nil
}

// firstError is the error of a request that applied to none of its users:
// the first user's.
func firstError(errs []UserError) error {
	if len(errs) == 0 {
		return protocol.Errorf(protocol.CodeInvalidArgument, "no user to apply the request to")
	}
	e := errs[0]
	if len(errs) == 1 {
		return protocol.Errorf(e.Code, "%s: %s", e.UserID, e.Message)
	}
	return protocol.Errorf(e.Code, "%s: %s (and %d more users)", e.UserID, e.Message, len(errs)-1)
}

var groupIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newGroupID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "g" + strings.ToLower(groupIDEncoding.EncodeToString(b[:]))
}

// CreateGroup creates a group owned by userID with the members named.
func (s *Service) CreateGroup(ctx context.Context, appID, userID string, req GroupCreate) (GroupResult, error) {
	return s.CreateGroupAs(ctx, appID, AsUser(userID), userID, req)
}

// CreateGroupAs creates a group owned by owner (the user itself, or one the
// app's server names) with the members named. Members that cannot be added
// (invalid IDs; for a user, users that never logged in) are in the reply's
// ErrorUserList and the group is created with the others.
func (s *Service) CreateGroupAs(ctx context.Context, appID string, a Actor, owner string, req GroupCreate) (GroupResult, error) {
	if !protocol.ValidUserID(owner) {
		return GroupResult{}, protocol.Errorf(protocol.CodeInvalidUserID, "owner is not a valid user ID")
	}
	if err := protocol.ValidateGroupCreate(&protocol.GroupCreateRequest{
		GroupID: req.GroupID, Name: req.Name, ExtendedData: req.ExtendedData, Members: req.Members, JoinMode: req.JoinMode,
	}, owner); err != nil {
		return GroupResult{}, err
	}
	members, bad := protocol.SplitUserIDs(req.Members, owner)
	errs := userErrors(bad)
	if len(members)+1 > s.cfg.MaxGroupMembers {
		return GroupResult{}, protocol.Errorf(protocol.CodeGroupFull, "a group has at most %d members", s.cfg.MaxGroupMembers)
	}
	if a.server {
		// Users are recorded only for a create that can succeed.
		if req.GroupID != "" {
			if _, err := s.group(ctx, appID, req.GroupID); err == nil {
				return GroupResult{}, protocol.Errorf(protocol.CodeGroupExists, "")
			} else if !errors.Is(err, protocol.Errorf(protocol.CodeGroupNotFound, "")) {
				return GroupResult{}, err
			}
		}
		if _, _, err := s.admit(ctx, appID, a, []string{owner}); err != nil {
			return GroupResult{}, err
		}
	}
	members, unknown, err := s.admit(ctx, appID, a, members)
	if err != nil {
		return GroupResult{}, err
	}
	errs = append(errs, unknown...)
	id := req.GroupID
	if id == "" {
		id = newGroupID()
	}
	mode := protocol.DefaultJoinMode
	if req.JoinMode != nil {
		mode = *req.JoinMode
	}
	now := s.cfg.Now().Truncate(time.Millisecond)
	g := Group{AppID: appID, ID: id, Name: req.Name, ExtendedData: req.ExtendedData, Owner: owner, CreatedAt: now, JoinMode: mode}
	ms := make([]GroupMember, 0, len(members)+1)
	ms = append(ms, GroupMember{UserID: owner, Role: protocol.RoleOwner, JoinedAt: now})
	for _, u := range members {
		ms = append(ms, GroupMember{UserID: u, Role: protocol.RoleMember, JoinedAt: now})
	}
	k := groupKey{appID, id}
	l := s.groups.lock(k)
	l.Lock()
	err = s.store.CreateGroup(ctx, g, ms)
	if err == nil {
		s.groups.put(k, newSnap(g, ms))
		s.groupChanged(k)
	}
	l.Unlock()
	switch {
	case errors.Is(err, ErrConflict):
		return GroupResult{}, protocol.Errorf(protocol.CodeGroupExists, "")
	case err != nil:
		return GroupResult{}, fmt.Errorf("im: create group: %w", err)
	}
	g.MemberCount = len(ms)
	for _, m := range ms {
		s.router.GroupEvent(appID, m.UserID, GroupStateChanged{
			GroupID: id, State: protocol.GroupStateEnter, Event: protocol.GroupEventCreated, OperatedBy: a.by(),
			Group: &g, Role: m.Role,
		})
	}
	s.metrics.groupOps.WithLabelValues("create").Inc()
	return GroupResult{Group: g, MyRole: protocol.RoleOwner, ErrorUsers: errs}, nil
}

// insertMembers writes users (not members of sn's group) as members and
// returns the new snapshot; the caller holds the group's lock.
func (s *Service) insertMembers(ctx context.Context, sn *groupSnap, users []string) (*groupSnap, error) {
	if len(sn.members)+len(users) > s.cfg.MaxGroupMembers {
		return nil, protocol.Errorf(protocol.CodeGroupFull, "a group has at most %d members", s.cfg.MaxGroupMembers)
	}
	now := s.cfg.Now().Truncate(time.Millisecond)
	ms := make([]GroupMember, 0, len(users))
	for _, u := range users {
		ms = append(ms, GroupMember{UserID: u, Role: protocol.RoleMember, JoinedAt: now})
	}
	joined, err := s.store.AddGroupMembers(ctx, sn.group.AppID, sn.group.ID, ms)
	if err != nil {
		return nil, fmt.Errorf("im: add group members: %w", err)
	}
	change := make(map[string]GroupMember, len(ms))
	for _, m := range ms {
		m.JoinedSeq, m.ReadSeq = joined, joined
		change[m.UserID] = m
	}
	return sn.with(change), nil
}

// entered tells the users added to sn's group, and its members, that they
// entered it.
func (s *Service) entered(sn *groupSnap, added []string, event, by string) {
	for _, u := range added {
		s.router.GroupEvent(sn.group.AppID, u, GroupStateChanged{
			GroupID: sn.group.ID, State: protocol.GroupStateEnter, Event: event, OperatedBy: by,
			Group: &sn.group, Role: protocol.RoleMember,
		})
	}
	s.memberEvent(sn, protocol.GroupStateEnter, event, by, added, nil)
	s.metrics.groupOps.WithLabelValues(event).Inc()
}

// memberEvent tells every member of sn, and the users in also, that users
// entered or left.
func (s *Service) memberEvent(sn *groupSnap, state, event, by string, users, also []string) {
	ev := GroupMemberStateChanged{
		GroupID: sn.group.ID, State: state, Event: event, UserIDs: users, OperatedBy: by,
		MemberCount: len(sn.members),
	}
	for _, r := range sn.recips {
		s.router.GroupEvent(sn.group.AppID, r.UserID, ev)
	}
	for _, u := range also {
		s.router.GroupEvent(sn.group.AppID, u, ev)
	}
}

// toAdmins sends an event to the owner and the admins of sn's group, and to
// the users in also.
func (s *Service) toAdmins(sn *groupSnap, ev GroupEvent, also ...string) {
	for u, m := range sn.members {
		if isAdmin(m.Role) && !slices.Contains(also, u) {
			s.router.GroupEvent(sn.group.AppID, u, ev)
		}
	}
	for _, u := range also {
		s.router.GroupEvent(sn.group.AppID, u, ev)
	}
}

// joinStateLabel names a join request's state in the group metrics.
func joinStateLabel(st int) string {
	switch st {
	case JoinAccepted:
		return "accepted"
	case JoinRejected:
		return "rejected"
	}
	return "pending"
}

// JoinGroup asks for the user to join a group, as its join mode says: any
// makes it a member; approval files a join request for the owner and the
// admins (the reply says pending); invite only refuses.
func (s *Service) JoinGroup(ctx context.Context, appID, userID string, req GroupJoin) (GroupResult, error) {
	if len(req.Message) > protocol.MaxApplicationMessageBytes || !utf8.ValidString(req.Message) {
		return GroupResult{}, protocol.Errorf(protocol.CodeInvalidArgument, "message over %d bytes or not UTF-8", protocol.MaxApplicationMessageBytes)
	}
	var filed *JoinRequest
	joined := false
	sn, err := s.groupOp(ctx, appID, req.GroupID, func(sn *groupSnap) (*groupSnap, error) {
		if !sn.group.DismissedAt.IsZero() {
			return nil, protocol.Errorf(protocol.CodeGroupDismissed, "")
		}
		if _, ok := sn.members[userID]; ok {
			return nil, protocol.Errorf(protocol.CodeAlreadyGroupMember, "")
		}
		switch sn.group.JoinMode {
		case protocol.JoinModeAny:
			joined = true
			return s.insertMembers(ctx, sn, []string{userID})
		case protocol.JoinModeInviteOnly:
			return nil, protocol.Errorf(protocol.CodeGroupInviteOnly, "")
		}
		old, err := s.store.JoinRequest(ctx, appID, sn.group.ID, userID)
		switch {
		case err == nil && old.State == JoinPending:
			return nil, protocol.Errorf(protocol.CodeJoinRequestPending, "")
		case err != nil && !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("im: join request: %w", err)
		}
		now := s.cfg.Now().Truncate(time.Millisecond)
		r := JoinRequest{AppID: appID, GroupID: sn.group.ID, UserID: userID, Message: req.Message, State: JoinPending,
			CreatedAt: now, UpdatedAt: now}
		if err := s.store.PutJoinRequest(ctx, r); err != nil {
			return nil, fmt.Errorf("im: put join request: %w", err)
		}
		filed = &r
		return nil, nil
	})
	if err != nil {
		return GroupResult{}, err
	}
	if joined {
		s.entered(sn, []string{userID}, protocol.GroupEventJoined, userID)
		return GroupResult{Group: sn.group, MyRole: protocol.RoleMember}, nil
	}
	s.toAdmins(sn, GroupApplicationListChanged{Action: "added", Application: *filed})
	s.metrics.groupOps.WithLabelValues("applied").Inc()
	return GroupResult{Group: Group{ID: sn.group.ID, JoinMode: sn.group.JoinMode}, Pending: true, Application: filed}, nil
}

// InviteToGroup adds users to a group the caller is a member of.
func (s *Service) InviteToGroup(ctx context.Context, appID, userID string, req GroupUsers) (GroupUsersResult, error) {
	return s.InviteToGroupAs(ctx, appID, AsUser(userID), req)
}

// InviteToGroupAs adds users to a group: a user must be a member, the app's
// server may add users who never logged in. Users that cannot be added
// (invalid IDs, unknown users, members already) are in the reply's
// ErrorUserList and the others are added; when none can be, the request
// fails with the first one's code.
func (s *Service) InviteToGroupAs(ctx context.Context, appID string, a Actor, req GroupUsers) (GroupUsersResult, error) {
	if err := protocol.ValidateGroupUserCount(req.GroupID, req.UserIDs); err != nil {
		return GroupUsersResult{}, err
	}
	users, bad := protocol.SplitUserIDs(req.UserIDs, "")
	errs := userErrors(bad)
	if a.server {
		// Users are recorded only for a group they can be added to.
		sn, err := s.group(ctx, appID, req.GroupID)
		if err != nil {
			return GroupUsersResult{}, err
		}
		if _, err := a.me(sn); err != nil {
			return GroupUsersResult{}, err
		}
	}
	users, unknown, err := s.admit(ctx, appID, a, users)
	if err != nil {
		return GroupUsersResult{}, err
	}
	errs = append(errs, unknown...)
	var added []string
	sn, err := s.groupOp(ctx, appID, req.GroupID, func(sn *groupSnap) (*groupSnap, error) {
		if _, err := a.me(sn); err != nil {
			return nil, err
		}
		for _, u := range users {
			if _, ok := sn.members[u]; ok {
				errs = append(errs, UserError{UserID: u, Code: protocol.CodeAlreadyGroupMember, Message: "a member already"})
				continue
			}
			added = append(added, u)
		}
		if len(added) == 0 {
			return nil, firstError(errs)
		}
		return s.insertMembers(ctx, sn, added)
	})
	if err != nil {
		return GroupUsersResult{}, err
	}
	s.entered(sn, added, protocol.GroupEventInvited, a.by())
	return GroupUsersResult{UserIDs: added, MemberCount: len(sn.members), ErrorUsers: errs}, nil
}

// removeMembers is LeaveGroup's and KickFromGroup's change; allowed checks
// the caller's right against the current snapshot. Users that are not
// members are in the errors returned; when none is, it fails.
func (s *Service) removeMembers(ctx context.Context, appID, groupID string, a Actor, users []string, event string, allowed func(sn *groupSnap, me GroupMember) error) (*groupSnap, []string, []UserError, error) {
	var removed []string
	var errs []UserError
	sn, err := s.groupOp(ctx, appID, groupID, func(sn *groupSnap) (*groupSnap, error) {
		me, err := a.me(sn)
		if err != nil {
			return nil, err
		}
		if err := allowed(sn, me); err != nil {
			return nil, err
		}
		for _, u := range users {
			m, ok := sn.members[u]
			switch {
			case !ok:
				errs = append(errs, UserError{UserID: u, Code: protocol.CodeNotGroupMember, Message: "not a member"})
			case a.server && m.Role == protocol.RoleOwner:
				errs = append(errs, UserError{UserID: u, Code: protocol.CodeOwnerCannotLeave, Message: "the owner leaves after a transfer"})
			default:
				removed = append(removed, u)
			}
		}
		if len(removed) == 0 {
			if len(users) == 1 && len(errs) == 1 && errs[0].Code == protocol.CodeNotGroupMember {
				return nil, protocol.Errorf(protocol.CodeNotGroupMember, "")
			}
			return nil, firstError(errs)
		}
		if err := s.store.RemoveGroupMembers(ctx, appID, groupID, removed); err != nil {
			return nil, fmt.Errorf("im: remove group members: %w", err)
		}
		change := make(map[string]GroupMember, len(removed))
		for _, u := range removed {
			change[u] = GroupMember{UserID: u}
		}
		return sn.with(change), nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, u := range removed {
		s.router.GroupEvent(appID, u, GroupStateChanged{
			GroupID: groupID, State: protocol.GroupStateQuit, Event: event, OperatedBy: a.by(),
			Group: &sn.group,
		})
	}
	s.memberEvent(sn, protocol.GroupStateQuit, event, a.by(), removed, removed)
	s.metrics.groupOps.WithLabelValues(event).Inc()
	return sn, removed, errs, nil
}

// LeaveGroup removes the caller from a group. The owner must transfer the
// group or dismiss it instead.
func (s *Service) LeaveGroup(ctx context.Context, appID, userID string, req GroupRef) (struct{}, error) {
	_, _, _, err := s.removeMembers(ctx, appID, req.GroupID, AsUser(userID), []string{userID}, protocol.GroupEventLeft,
		func(_ *groupSnap, me GroupMember) error {
			if me.Role == protocol.RoleOwner {
				return protocol.Errorf(protocol.CodeOwnerCannotLeave, "")
			}
			return nil
		})
	return struct{}{}, err
}

// KickFromGroup removes members: the owner may remove anyone else, an
// admin plain members only.
func (s *Service) KickFromGroup(ctx context.Context, appID, userID string, req GroupUsers) (GroupUsersResult, error) {
	return s.KickFromGroupAs(ctx, appID, AsUser(userID), req)
}

// KickFromGroupAs removes members: the owner may remove anyone else, an
// admin plain members only, the app's server anyone but the owner. Users
// it does not apply to (invalid IDs, not members) are in the reply's
// ErrorUserList; when none is removed, it fails.
func (s *Service) KickFromGroupAs(ctx context.Context, appID string, a Actor, req GroupUsers) (GroupUsersResult, error) {
	if err := protocol.ValidateGroupUserCount(req.GroupID, req.UserIDs); err != nil {
		return GroupUsersResult{}, err
	}
	users, wbad := protocol.SplitUserIDs(req.UserIDs, "")
	bad := userErrors(wbad)
	if !a.server && slices.Contains(users, a.userID) {
		return GroupUsersResult{}, protocol.Errorf(protocol.CodeInvalidArgument, "cannot kick yourself: leave the group instead")
	}
	if len(users) == 0 {
		return GroupUsersResult{}, firstError(bad)
	}
	sn, removed, errs, err := s.removeMembers(ctx, appID, req.GroupID, a, users, protocol.GroupEventKickedOut,
		func(sn *groupSnap, me GroupMember) error {
			if !isAdmin(me.Role) {
				return protocol.Errorf(protocol.CodePermissionDenied, "only the owner and admins may kick members")
			}
			if a.server {
				return nil
			}
			for _, u := range users {
				if t, ok := sn.members[u]; ok && t.Role <= me.Role {
					return protocol.Errorf(protocol.CodePermissionDenied, "%s's role is not below yours", u)
				}
			}
			return nil
		})
	if err != nil {
		return GroupUsersResult{}, err
	}
	return GroupUsersResult{UserIDs: removed, MemberCount: len(sn.members), ErrorUsers: append(bad, errs...)}, nil
}

// DismissGroup ends a group (owner only): every member leaves and every
// later request on it fails with group_dismissed.
func (s *Service) DismissGroup(ctx context.Context, appID, userID string, req GroupRef) (struct{}, error) {
	return s.DismissGroupAs(ctx, appID, AsUser(userID), req)
}

// DismissGroupAs ends a group (its owner, or the app's server).
func (s *Service) DismissGroupAs(ctx context.Context, appID string, a Actor, req GroupRef) (struct{}, error) {
	var former []Recipient
	_, err := s.groupOp(ctx, appID, req.GroupID, func(sn *groupSnap) (*groupSnap, error) {
		me, err := a.me(sn)
		if err != nil {
			return nil, err
		}
		if me.Role > protocol.RoleOwner {
			return nil, protocol.Errorf(protocol.CodePermissionDenied, "only the owner may dismiss the group")
		}
		now := s.cfg.Now().Truncate(time.Millisecond)
		if err := s.store.DismissGroup(ctx, appID, req.GroupID, now); err != nil {
			return nil, fmt.Errorf("im: dismiss group: %w", err)
		}
		former = sn.recips
		g := sn.group
		g.DismissedAt = now
		return newSnap(g, nil), nil
	})
	if err != nil {
		return struct{}{}, err
	}
	for _, r := range former {
		s.router.GroupEvent(appID, r.UserID, GroupStateChanged{
			GroupID: req.GroupID, State: protocol.GroupStateQuit, Event: protocol.GroupEventDismissed, OperatedBy: a.by(),
		})
	}
	s.metrics.groupOps.WithLabelValues("dismissed").Inc()
	return struct{}{}, nil
}

// setRoles applies role changes checked by check, and tells every member.
func (s *Service) setRoles(ctx context.Context, appID, groupID string, a Actor, check func(sn *groupSnap, me GroupMember) (map[string]int, string, error)) error {
	var changed []GroupMember
	sn, err := s.groupOp(ctx, appID, groupID, func(sn *groupSnap) (*groupSnap, error) {
		me, err := a.me(sn)
		if err != nil {
			return nil, err
		}
		roles, owner, err := check(sn, me)
		if err != nil {
			return nil, err
		}
		if err := s.store.SetGroupRoles(ctx, appID, groupID, roles, owner); err != nil {
			return nil, fmt.Errorf("im: set group roles: %w", err)
		}
		change := make(map[string]GroupMember, len(roles))
		for u, r := range roles {
			m := sn.members[u]
			m.Role = r
			change[u] = m
			changed = append(changed, GroupMember{UserID: u, Role: r, JoinedAt: m.JoinedAt})
		}
		next := sn.with(change)
		if owner != "" {
			next.group.Owner = owner
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(changed, func(a, b GroupMember) int { return strings.Compare(a.UserID, b.UserID) })
	ev := GroupMemberInfoUpdated{GroupID: groupID, Members: changed, OperatedBy: a.by()}
	for _, r := range sn.recips {
		s.router.GroupEvent(appID, r.UserID, ev)
	}
	return nil
}

// TransferGroup makes another member the owner; the caller becomes a plain
// member.
func (s *Service) TransferGroup(ctx context.Context, appID, userID string, req GroupTransfer) (struct{}, error) {
	return s.TransferGroupAs(ctx, appID, AsUser(userID), req)
}

// TransferGroupAs makes another member the owner (by the owner, or the
// app's server); the former owner becomes a plain member.
func (s *Service) TransferGroupAs(ctx context.Context, appID string, a Actor, req GroupTransfer) (struct{}, error) {
	if !protocol.ValidUserID(req.ToUserID) {
		return struct{}{}, protocol.Errorf(protocol.CodeInvalidUserID, "toUserID is not a valid user ID")
	}
	if !a.server && req.ToUserID == a.userID {
		return struct{}{}, protocol.Errorf(protocol.CodeInvalidArgument, "you own the group already")
	}
	err := s.setRoles(ctx, appID, req.GroupID, a, func(sn *groupSnap, me GroupMember) (map[string]int, string, error) {
		if me.Role > protocol.RoleOwner {
			return nil, "", protocol.Errorf(protocol.CodePermissionDenied, "only the owner may transfer the group")
		}
		if _, ok := sn.members[req.ToUserID]; !ok {
			return nil, "", protocol.Errorf(protocol.CodeNotGroupMember, "%s is not a member", req.ToUserID)
		}
		old := sn.group.Owner
		if req.ToUserID == old {
			return nil, "", protocol.Errorf(protocol.CodeInvalidArgument, "%s owns the group already", old)
		}
		roles := map[string]int{req.ToUserID: protocol.RoleOwner}
		if _, ok := sn.members[old]; ok {
			roles[old] = protocol.RoleMember
		}
		return roles, req.ToUserID, nil
	})
	if err == nil {
		s.metrics.groupOps.WithLabelValues("transfer").Inc()
	}
	return struct{}{}, err
}

// SetGroupRole makes a member an admin or a plain member (owner only).
func (s *Service) SetGroupRole(ctx context.Context, appID, userID string, req GroupSetRole) (struct{}, error) {
	if !protocol.ValidUserID(req.UserID) {
		return struct{}{}, protocol.Errorf(protocol.CodeInvalidUserID, "userID is not a valid user ID")
	}
	if req.Role != protocol.RoleAdmin && req.Role != protocol.RoleMember {
		return struct{}{}, protocol.Errorf(protocol.CodeInvalidArgument, "role must be 2 (admin) or 3 (member); use groupTransfer for the owner")
	}
	err := s.setRoles(ctx, appID, req.GroupID, AsUser(userID), func(sn *groupSnap, me GroupMember) (map[string]int, string, error) {
		if me.Role != protocol.RoleOwner {
			return nil, "", protocol.Errorf(protocol.CodePermissionDenied, "only the owner may change roles")
		}
		if req.UserID == userID {
			return nil, "", protocol.Errorf(protocol.CodeInvalidArgument, "the owner's role changes by groupTransfer")
		}
		if _, ok := sn.members[req.UserID]; !ok {
			return nil, "", protocol.Errorf(protocol.CodeNotGroupMember, "%s is not a member", req.UserID)
		}
		return map[string]int{req.UserID: req.Role}, "", nil
	})
	if err == nil {
		s.metrics.groupOps.WithLabelValues("role").Inc()
	}
	return struct{}{}, err
}

// SetGroupJoinMode changes a group's join mode (owner and admins).
func (s *Service) SetGroupJoinMode(ctx context.Context, appID, userID string, req GroupSetJoinMode) (struct{}, error) {
	return s.SetGroupJoinModeAs(ctx, appID, AsUser(userID), req)
}

// SetGroupJoinModeAs changes a group's join mode (owner, admins, the app's
// server) and tells the members. Join requests pending stay pending.
func (s *Service) SetGroupJoinModeAs(ctx context.Context, appID string, a Actor, req GroupSetJoinMode) (struct{}, error) {
	if !protocol.ValidJoinMode(req.JoinMode) {
		return struct{}{}, protocol.JoinModeError()
	}
	changed := false
	sn, err := s.groupOp(ctx, appID, req.GroupID, func(sn *groupSnap) (*groupSnap, error) {
		me, err := a.me(sn)
		if err != nil {
			return nil, err
		}
		if !isAdmin(me.Role) {
			return nil, protocol.Errorf(protocol.CodePermissionDenied, "only the owner and admins may change the join mode")
		}
		if sn.group.JoinMode == req.JoinMode {
			return nil, nil
		}
		if err := s.store.SetGroupJoinMode(ctx, appID, req.GroupID, req.JoinMode); err != nil {
			return nil, fmt.Errorf("im: set group join mode: %w", err)
		}
		next := sn.with(nil)
		next.group.JoinMode = req.JoinMode
		changed = true
		return next, nil
	})
	if err != nil || !changed {
		return struct{}{}, err
	}
	ev := GroupJoinModeUpdated{GroupID: req.GroupID, JoinMode: req.JoinMode, OperatedBy: a.by()}
	for _, r := range sn.recips {
		s.router.GroupEvent(appID, r.UserID, ev)
	}
	s.metrics.groupOps.WithLabelValues("joinMode").Inc()
	return struct{}{}, nil
}

// AcceptGroupApplication makes the applicant of a pending join request a
// member (owner and admins).
func (s *Service) AcceptGroupApplication(ctx context.Context, appID, userID string, req GroupApplicationRef) (JoinRequest, error) {
	return s.decideApplication(ctx, appID, AsUser(userID), req, JoinAccepted)
}

// RejectGroupApplication rejects a pending join request (owner and admins).
func (s *Service) RejectGroupApplication(ctx context.Context, appID, userID string, req GroupApplicationRef) (JoinRequest, error) {
	return s.decideApplication(ctx, appID, AsUser(userID), req, JoinRejected)
}

// DecideGroupApplicationAs accepts (accept true) or rejects a pending join
// request.
func (s *Service) DecideGroupApplicationAs(ctx context.Context, appID string, a Actor, req GroupApplicationRef, accept bool) (JoinRequest, error) {
	state := JoinRejected
	if accept {
		state = JoinAccepted
	}
	return s.decideApplication(ctx, appID, a, req, state)
}

// decideApplication moves a pending join request to state: accepted, the
// applicant becomes a member (and sees what is sent from then on); the
// applicant, the owner and the admins are told.
func (s *Service) decideApplication(ctx context.Context, appID string, a Actor, req GroupApplicationRef, state int) (JoinRequest, error) {
	if !protocol.ValidUserID(req.UserID) {
		return JoinRequest{}, protocol.Errorf(protocol.CodeInvalidUserID, "userID is not a valid user ID")
	}
	var r JoinRequest
	before, err := s.groupOp(ctx, appID, req.GroupID, func(sn *groupSnap) (*groupSnap, error) {
		me, err := a.me(sn)
		if err != nil {
			return nil, err
		}
		if !isAdmin(me.Role) {
			return nil, protocol.Errorf(protocol.CodePermissionDenied, "only the owner and admins may answer join requests")
		}
		r, err = s.store.JoinRequest(ctx, appID, sn.group.ID, req.UserID)
		switch {
		case errors.Is(err, ErrNotFound) || err == nil && r.State != JoinPending:
			return nil, protocol.Errorf(protocol.CodeNoJoinRequest, "")
		case err != nil:
			return nil, fmt.Errorf("im: join request: %w", err)
		}
		now := s.cfg.Now().Truncate(time.Millisecond)
		r.State, r.UpdatedAt = state, now
		if state == JoinRejected {
			if err := s.store.DecideJoinRequest(ctx, appID, sn.group.ID, req.UserID, JoinRejected, now); err != nil {
				return nil, fmt.Errorf("im: reject join request: %w", err)
			}
			return nil, nil
		}
		if _, ok := sn.members[req.UserID]; ok {
			return nil, protocol.Errorf(protocol.CodeAlreadyGroupMember, "")
		}
		return s.insertMembers(ctx, sn, []string{req.UserID}) // marks the request accepted
	})
	if err != nil {
		return JoinRequest{}, err
	}
	if state == JoinAccepted {
		s.entered(before, []string{req.UserID}, protocol.GroupEventJoined, a.by())
	}
	s.toAdmins(before, GroupApplicationUpdated{Application: r, OperatedBy: a.by()}, req.UserID)
	s.metrics.groupOps.WithLabelValues("application." + joinStateLabel(r.State)).Inc()
	return r, nil
}

// GroupApplicationList pages through a group's join requests (owner and
// admins).
func (s *Service) GroupApplicationList(ctx context.Context, appID, userID string, req GroupPage) (JoinRequestPage, error) {
	return s.GroupApplicationListAs(ctx, appID, AsUser(userID), req)
}

// GroupApplicationListAs pages through a group's join requests, pending and
// decided, in applicant order.
func (s *Service) GroupApplicationListAs(ctx context.Context, appID string, a Actor, req GroupPage) (JoinRequestPage, error) {
	if !protocol.ValidGroupID(req.GroupID) {
		return JoinRequestPage{}, protocol.GroupIDError()
	}
	sn, err := s.group(ctx, appID, req.GroupID)
	if err != nil {
		return JoinRequestPage{}, err
	}
	me, err := a.me(sn)
	if err != nil {
		return JoinRequestPage{}, err
	}
	if !isAdmin(me.Role) {
		return JoinRequestPage{}, protocol.Errorf(protocol.CodePermissionDenied, "only the owner and admins may list join requests")
	}
	n, perr := protocol.PageCount(req.Count)
	if perr != nil {
		return JoinRequestPage{}, perr
	}
	rs, err := s.store.JoinRequests(ctx, appID, req.GroupID, req.Next, n+1)
	if err != nil {
		return JoinRequestPage{}, fmt.Errorf("im: join requests: %w", err)
	}
	var out JoinRequestPage
	if len(rs) > n {
		rs = rs[:n]
		out.Next = rs[n-1].UserID
	}
	out.Applications = rs
	return out, nil
}

// GroupInfo describes a group to one of its members.
func (s *Service) GroupInfo(ctx context.Context, appID, userID string, req GroupRef) (GroupResult, error) {
	return s.GroupInfoAs(ctx, appID, AsUser(userID), req)
}

// GroupInfoAs describes a group to one of its members or the app's server
// (MyRole 0).
func (s *Service) GroupInfoAs(ctx context.Context, appID string, a Actor, req GroupRef) (GroupResult, error) {
	if !protocol.ValidGroupID(req.GroupID) {
		return GroupResult{}, protocol.GroupIDError()
	}
	sn, err := s.group(ctx, appID, req.GroupID)
	if err != nil {
		return GroupResult{}, err
	}
	me, err := a.me(sn)
	if err != nil {
		return GroupResult{}, err
	}
	return GroupResult{Group: sn.group, MyRole: me.Role}, nil
}

// GroupMembers pages through a group's members, for its members only.
func (s *Service) GroupMembers(ctx context.Context, appID, userID string, req GroupPage) (GroupMembersPage, error) {
	return s.GroupMembersAs(ctx, appID, AsUser(userID), req)
}

// GroupMembersAs pages through a group's members, for its members and the
// app's server.
func (s *Service) GroupMembersAs(ctx context.Context, appID string, a Actor, req GroupPage) (GroupMembersPage, error) {
	if !protocol.ValidGroupID(req.GroupID) {
		return GroupMembersPage{}, protocol.GroupIDError()
	}
	sn, err := s.group(ctx, appID, req.GroupID)
	if err != nil {
		return GroupMembersPage{}, err
	}
	if _, err := a.me(sn); err != nil {
		return GroupMembersPage{}, err
	}
	n, perr := protocol.PageCount(req.Count)
	if perr != nil {
		return GroupMembersPage{}, perr
	}
	ms, err := s.store.GroupMembers(ctx, appID, req.GroupID, req.Next, n+1)
	if err != nil {
		return GroupMembersPage{}, fmt.Errorf("im: group members: %w", err)
	}
	var out GroupMembersPage
	if len(ms) > n {
		ms = ms[:n]
		out.Next = ms[n-1].UserID
	}
	out.Members = ms
	return out, nil
}

// GroupList pages through the caller's groups.
func (s *Service) GroupList(ctx context.Context, appID, userID string, req GroupListQuery) (GroupListPage, error) {
	n, perr := protocol.PageCount(req.Count)
	if perr != nil {
		return GroupListPage{}, perr
	}
	gs, err := s.store.UserGroups(ctx, appID, userID, req.Next, n+1)
	if err != nil {
		return GroupListPage{}, fmt.Errorf("im: group list: %w", err)
	}
	var out GroupListPage
	if len(gs) > n {
		gs = gs[:n]
		out.Next = gs[n-1].ID
	}
	out.Groups = gs
	return out, nil
}

// groupRoute is a committed group message to hand to its members' sessions.
type groupRoute struct {
	p *pendingSend
}

// routeGroups hands committed group messages to the members' sessions, in
// commit order per group (one worker per shard of groups), then calls the
// sender's done: the reply follows the message's delivery to the sender's
// other sessions.
func (s *Service) routeGroups(ctx context.Context, in <-chan groupRoute) {
	for r := range in {
		m := r.p.msg
		sn, err := s.group(ctx, m.AppID, m.Recipient)
		if err != nil {
			// The message is stored: members get it at their next sync.
			s.log.Warn("group route: loading members failed", "group", m.Recipient, "err", err)
		} else {
			s.router.RouteGroup(m, routed(sn.recips, m), r.p.origin)
		}
		r.p.done(SendResult{Msg: m}, nil)
	}
}

func (s *Service) routeShard(group string) int {
	var h maphash.Hash
	h.SetSeed(s.groups.seed)
	h.WriteString(group)
	return int(h.Sum64() % uint64(len(s.routes)))
}

// groupPushPage is how many members one fan-out transaction covers.
const groupPushPage = 1000

// runGroupPushes runs groupPushLoop until stop: on this node, or, with
// Config.GroupPushLeader, while this node leads. A page is planned in one
// transaction with its progress (PlanGroupPush), so a leader that stops or
// loses the leadership mid-message leaves the rest to the next one, which
// goes on after the last page written: each page is planned once.
func (s *Service) runGroupPushes(ctx context.Context, stop <-chan struct{}) {
	if s.cfg.GroupPushLeader == nil {
		s.groupPushLoop(ctx, stop)
		return
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-lctx.Done():
		}
	}()
	_ = s.cfg.GroupPushLeader.Run(lctx, func(ctx context.Context) { s.groupPushLoop(ctx, ctx.Done()) })
}

// WakeGroupPushes makes the planning of group pushes look for work now (on
// the leader: the other nodes' commits wake it through the cluster's bus).
// It never blocks.
func (s *Service) WakeGroupPushes() {
	select {
	case s.fanoutWake <- struct{}{}:
	default:
	}
}

// groupPushLoop turns group messages' offline pushes into push jobs, a page
// of members per transaction, until stop.
func (s *Service) groupPushLoop(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for {
			fs, err := s.store.GroupFanouts(ctx, 16)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("reading group pushes failed; retrying", "err", err)
				}
				break
			}
			for _, f := range fs {
				if err := s.planGroupPush(ctx, f); err != nil && ctx.Err() == nil {
					s.log.Warn("planning a group push failed; retrying", "message", f.MessageID, "err", err)
				}
			}
			if len(fs) < 16 {
				break
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		case <-s.fanoutWake:
		}
	}
}

// planGroupPush writes the push jobs of one group message for its members
// offline now, the sender and later joiners excepted.
func (s *Service) planGroupPush(ctx context.Context, f GroupFanout) error {
	start := time.Now()
	if !f.ExpiresAt.IsZero() && !s.cfg.Now().Before(f.ExpiresAt) {
		return s.store.PlanGroupPush(ctx, f, nil, "")
	}
	after := f.AfterUser
	for {
		ms, err := s.store.GroupMembers(ctx, f.AppID, f.GroupID, after, groupPushPage)
		if err != nil {
			return err
		}
		users := make([]string, 0, len(ms))
		var ruled []string // live members whose rule decides (pushrule.go)
		for _, m := range ms {
			if m.UserID == f.Sender || m.JoinedSeq >= f.Seq {
				continue
			}
			switch {
			case !s.router.Online(f.AppID, m.UserID):
				users = append(users, m.UserID)
			case s.mayHaveRule(f.AppID, m.UserID):
				ruled = append(ruled, m.UserID)
			}
		}
		next := ""
		if len(ms) == groupPushPage {
			next = ms[len(ms)-1].UserID
		}
		if err := s.store.PlanGroupPush(ctx, f, users, next); err != nil {
			return err
		}
		if len(users) > 0 && s.cfg.PushPlanned != nil {
			s.cfg.PushPlanned()
		}
		for _, u := range ruled {
			pl := []PushPlan{{MessageID: f.MessageID, PushConfig: f.PushConfig, ExpiresAt: f.ExpiresAt}}
			if err := s.planRuled(ctx, f.AppID, u, pl, s.cfg.Now()); err != nil {
				return err
			}
		}
		if next == "" {
			s.metrics.groupPushSeconds.Observe(time.Since(start).Seconds())
			return nil
		}
		after = next
		f.AfterUser = next
	}
}
