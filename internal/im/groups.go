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
	return next, nil
}

// wireGroup is a group as viewer sees it.
func wireGroup(g Group, role int) protocol.Group {
	return protocol.Group{
		GroupID: g.ID, Name: g.Name, ExtendedData: g.ExtendedData, OwnerUserID: g.Owner,
		MemberCount: g.MemberCount, CreatedAt: g.CreatedAt.UnixMilli(), MyRole: role,
	}
}

// dedupe returns users without repeats and without except, in the order
// given.
func dedupe(users []string, except string) []string {
	seen := make(map[string]bool, len(users))
	out := make([]string, 0, len(users))
	for _, u := range users {
		if u != except && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// knownUsers fails with user_not_found when some of users never logged in.
func (s *Service) knownUsers(ctx context.Context, appID string, users []string) error {
	if len(users) == 0 {
		return nil
	}
	unknown, err := s.UnknownUsers(ctx, appID, users)
	if err != nil {
		return err
	}
	if len(unknown) > 0 {
		return protocol.Errorf(protocol.CodeUserNotFound, "no such users: %s", strings.Join(unknown[:min(len(unknown), 10)], ","))
	}
	return nil
}

var groupIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newGroupID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "g" + strings.ToLower(groupIDEncoding.EncodeToString(b[:]))
}

// CreateGroup creates a group owned by userID with the members named.
func (s *Service) CreateGroup(ctx context.Context, appID, userID string, req protocol.GroupCreateRequest) (protocol.GroupReply, error) {
	if err := protocol.ValidateGroupCreate(&req, userID); err != nil {
		return protocol.GroupReply{}, err
	}
	members := dedupe(req.Members, userID)
	if len(members)+1 > s.cfg.MaxGroupMembers {
		return protocol.GroupReply{}, protocol.Errorf(protocol.CodeGroupFull, "a group has at most %d members", s.cfg.MaxGroupMembers)
	}
	if err := s.knownUsers(ctx, appID, members); err != nil {
		return protocol.GroupReply{}, err
	}
	id := req.GroupID
	if id == "" {
		id = newGroupID()
	}
	now := s.cfg.Now().Truncate(time.Millisecond)
	g := Group{AppID: appID, ID: id, Name: req.Name, ExtendedData: req.ExtendedData, Owner: userID, CreatedAt: now}
	ms := make([]GroupMember, 0, len(members)+1)
	ms = append(ms, GroupMember{UserID: userID, Role: protocol.RoleOwner, JoinedAt: now})
	for _, u := range members {
		ms = append(ms, GroupMember{UserID: u, Role: protocol.RoleMember, JoinedAt: now})
	}
	k := groupKey{appID, id}
	l := s.groups.lock(k)
	l.Lock()
	err := s.store.CreateGroup(ctx, g, ms)
	if err == nil {
		s.groups.put(k, newSnap(g, ms))
	}
	l.Unlock()
	switch {
	case errors.Is(err, ErrConflict):
		return protocol.GroupReply{}, protocol.Errorf(protocol.CodeGroupExists, "")
	case err != nil:
		return protocol.GroupReply{}, fmt.Errorf("im: create group: %w", err)
	}
	g.MemberCount = len(ms)
	for _, m := range ms {
		s.router.SendEvent(appID, m.UserID, protocol.EventGroupStateChanged, protocol.GroupStateChanged{
			GroupID: id, State: protocol.GroupStateEnter, Event: protocol.GroupEventCreated, OperatedBy: userID,
			Group: wireGroup(g, m.Role),
		})
	}
	s.metrics.groupOps.WithLabelValues("create").Inc()
	return protocol.GroupReply{Group: wireGroup(g, protocol.RoleOwner)}, nil
}

// addMembers is JoinGroup's and InviteToGroup's change.
func (s *Service) addMembers(ctx context.Context, appID, groupID, by string, users []string, event string) (*groupSnap, []string, error) {
	var added []string
	sn, err := s.groupOp(ctx, appID, groupID, func(sn *groupSnap) (*groupSnap, error) {
		if !sn.group.DismissedAt.IsZero() {
			return nil, protocol.Errorf(protocol.CodeGroupDismissed, "")
		}
		if event == protocol.GroupEventInvited {
			if _, ok := sn.members[by]; !ok {
				return nil, protocol.Errorf(protocol.CodeNotGroupMember, "")
			}
		}
		for _, u := range users {
			if _, ok := sn.members[u]; !ok {
				added = append(added, u)
			}
		}
		if len(added) == 0 {
			return nil, protocol.Errorf(protocol.CodeAlreadyGroupMember, "")
		}
		if len(sn.members)+len(added) > s.cfg.MaxGroupMembers {
			return nil, protocol.Errorf(protocol.CodeGroupFull, "a group has at most %d members", s.cfg.MaxGroupMembers)
		}
		now := s.cfg.Now().Truncate(time.Millisecond)
		ms := make([]GroupMember, 0, len(added))
		for _, u := range added {
			ms = append(ms, GroupMember{UserID: u, Role: protocol.RoleMember, JoinedAt: now})
		}
		joined, err := s.store.AddGroupMembers(ctx, appID, groupID, ms)
		if err != nil {
			return nil, fmt.Errorf("im: add group members: %w", err)
		}
		change := make(map[string]GroupMember, len(ms))
		for _, m := range ms {
			m.JoinedSeq, m.ReadSeq = joined, joined
			change[m.UserID] = m
		}
		return sn.with(change), nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, u := range added {
		s.router.SendEvent(appID, u, protocol.EventGroupStateChanged, protocol.GroupStateChanged{
			GroupID: groupID, State: protocol.GroupStateEnter, Event: event, OperatedBy: by,
			Group: wireGroup(sn.group, protocol.RoleMember),
		})
	}
	s.memberEvent(sn, protocol.GroupStateEnter, event, by, added, nil)
	s.metrics.groupOps.WithLabelValues(event).Inc()
	return sn, added, nil
}

// memberEvent tells every member of sn, and the users in also, that users
// entered or left.
func (s *Service) memberEvent(sn *groupSnap, state, event, by string, users, also []string) {
	ev := protocol.GroupMemberStateChanged{
		GroupID: sn.group.ID, State: state, Event: event, UserIDs: users, OperatedBy: by,
		MemberCount: len(sn.members),
	}
	for _, r := range sn.recips {
		s.router.SendEvent(sn.group.AppID, r.UserID, protocol.EventGroupMemberStateChanged, ev)
	}
	for _, u := range also {
		s.router.SendEvent(sn.group.AppID, u, protocol.EventGroupMemberStateChanged, ev)
	}
}

// JoinGroup adds the user to a group.
func (s *Service) JoinGroup(ctx context.Context, appID, userID string, req protocol.GroupRequest) (protocol.GroupReply, error) {
	sn, _, err := s.addMembers(ctx, appID, req.GroupID, userID, []string{userID}, protocol.GroupEventJoined)
	if err != nil {
		return protocol.GroupReply{}, err
	}
	return protocol.GroupReply{Group: wireGroup(sn.group, protocol.RoleMember)}, nil
}

// InviteToGroup adds users to a group the caller is a member of. Users who
// are members already are left out of the reply; when all are, it fails.
func (s *Service) InviteToGroup(ctx context.Context, appID, userID string, req protocol.GroupUsersRequest) (protocol.GroupUsersReply, error) {
	if err := protocol.ValidateGroupUsers(req.GroupID, req.UserIDs); err != nil {
		return protocol.GroupUsersReply{}, err
	}
	users := dedupe(req.UserIDs, "")
	if err := s.knownUsers(ctx, appID, users); err != nil {
		return protocol.GroupUsersReply{}, err
	}
	sn, added, err := s.addMembers(ctx, appID, req.GroupID, userID, users, protocol.GroupEventInvited)
	if err != nil {
		return protocol.GroupUsersReply{}, err
	}
	return protocol.GroupUsersReply{UserIDs: added, MemberCount: len(sn.members)}, nil
}

// removeMembers is LeaveGroup's and KickFromGroup's change; allowed checks
// the caller's right against the current snapshot.
func (s *Service) removeMembers(ctx context.Context, appID, groupID, by string, users []string, event string, allowed func(sn *groupSnap, me GroupMember) error) (*groupSnap, []string, error) {
	var removed []string
	sn, err := s.groupOp(ctx, appID, groupID, func(sn *groupSnap) (*groupSnap, error) {
		_, me, err := checkMember(sn, by)
		if err != nil {
			return nil, err
		}
		if err := allowed(sn, me); err != nil {
			return nil, err
		}
		for _, u := range users {
			if _, ok := sn.members[u]; ok {
				removed = append(removed, u)
			}
		}
		if len(removed) == 0 {
			return nil, protocol.Errorf(protocol.CodeNotGroupMember, "none of the users is a member")
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
		return nil, nil, err
	}
	for _, u := range removed {
		s.router.SendEvent(appID, u, protocol.EventGroupStateChanged, protocol.GroupStateChanged{
			GroupID: groupID, State: protocol.GroupStateQuit, Event: event, OperatedBy: by,
			Group: wireGroup(sn.group, 0),
		})
	}
	s.memberEvent(sn, protocol.GroupStateQuit, event, by, removed, removed)
	s.metrics.groupOps.WithLabelValues(event).Inc()
	return sn, removed, nil
}

// LeaveGroup removes the caller from a group. The owner must transfer the
// group or dismiss it instead.
func (s *Service) LeaveGroup(ctx context.Context, appID, userID string, req protocol.GroupRequest) (struct{}, error) {
	_, _, err := s.removeMembers(ctx, appID, req.GroupID, userID, []string{userID}, protocol.GroupEventLeft,
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
func (s *Service) KickFromGroup(ctx context.Context, appID, userID string, req protocol.GroupUsersRequest) (protocol.GroupUsersReply, error) {
	if err := protocol.ValidateGroupUsers(req.GroupID, req.UserIDs); err != nil {
		return protocol.GroupUsersReply{}, err
	}
	users := dedupe(req.UserIDs, "")
	if slices.Contains(users, userID) {
		return protocol.GroupUsersReply{}, protocol.Errorf(protocol.CodeInvalidArgument, "cannot kick yourself: leave the group instead")
	}
	sn, removed, err := s.removeMembers(ctx, appID, req.GroupID, userID, users, protocol.GroupEventKickedOut,
		func(sn *groupSnap, me GroupMember) error {
			if me.Role != protocol.RoleOwner && me.Role != protocol.RoleAdmin {
				return protocol.Errorf(protocol.CodePermissionDenied, "only the owner and admins may kick members")
			}
			for _, u := range users {
				if t, ok := sn.members[u]; ok && t.Role <= me.Role {
					return protocol.Errorf(protocol.CodePermissionDenied, "%s's role is not below yours", u)
				}
			}
			return nil
		})
	if err != nil {
		return protocol.GroupUsersReply{}, err
	}
	return protocol.GroupUsersReply{UserIDs: removed, MemberCount: len(sn.members)}, nil
}

// DismissGroup ends a group (owner only): every member leaves and every
// later request on it fails with group_dismissed.
func (s *Service) DismissGroup(ctx context.Context, appID, userID string, req protocol.GroupRequest) (struct{}, error) {
	var former []Recipient
	_, err := s.groupOp(ctx, appID, req.GroupID, func(sn *groupSnap) (*groupSnap, error) {
		_, me, err := checkMember(sn, userID)
		if err != nil {
			return nil, err
		}
		if me.Role != protocol.RoleOwner {
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
		s.router.SendEvent(appID, r.UserID, protocol.EventGroupStateChanged, protocol.GroupStateChanged{
			GroupID: req.GroupID, State: protocol.GroupStateQuit, Event: protocol.GroupEventDismissed, OperatedBy: userID,
		})
	}
	s.metrics.groupOps.WithLabelValues("dismissed").Inc()
	return struct{}{}, nil
}

// setRoles applies role changes checked by check, and tells every member.
func (s *Service) setRoles(ctx context.Context, appID, groupID, by string, check func(sn *groupSnap, me GroupMember) (map[string]int, string, error)) error {
	var changed []protocol.GroupMember
	sn, err := s.groupOp(ctx, appID, groupID, func(sn *groupSnap) (*groupSnap, error) {
		_, me, err := checkMember(sn, by)
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
			changed = append(changed, protocol.GroupMember{UserID: u, Role: r, JoinedAt: m.JoinedAt.UnixMilli()})
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
	slices.SortFunc(changed, func(a, b protocol.GroupMember) int { return strings.Compare(a.UserID, b.UserID) })
	ev := protocol.GroupMemberInfoUpdated{GroupID: groupID, Members: changed, OperatedBy: by}
	for _, r := range sn.recips {
		s.router.SendEvent(appID, r.UserID, protocol.EventGroupMemberInfoUpdated, ev)
	}
	return nil
}

// TransferGroup makes another member the owner; the caller becomes a plain
// member.
func (s *Service) TransferGroup(ctx context.Context, appID, userID string, req protocol.GroupTransferRequest) (struct{}, error) {
	if !protocol.ValidUserID(req.ToUserID) {
		return struct{}{}, protocol.Errorf(protocol.CodeInvalidUserID, "toUserID is not a valid user ID")
	}
	if req.ToUserID == userID {
		return struct{}{}, protocol.Errorf(protocol.CodeInvalidArgument, "you own the group already")
	}
	err := s.setRoles(ctx, appID, req.GroupID, userID, func(sn *groupSnap, me GroupMember) (map[string]int, string, error) {
		if me.Role != protocol.RoleOwner {
			return nil, "", protocol.Errorf(protocol.CodePermissionDenied, "only the owner may transfer the group")
		}
		if _, ok := sn.members[req.ToUserID]; !ok {
			return nil, "", protocol.Errorf(protocol.CodeNotGroupMember, "%s is not a member", req.ToUserID)
		}
		return map[string]int{req.ToUserID: protocol.RoleOwner, userID: protocol.RoleMember}, req.ToUserID, nil
	})
	if err == nil {
		s.metrics.groupOps.WithLabelValues("transfer").Inc()
	}
	return struct{}{}, err
}

// SetGroupRole makes a member an admin or a plain member (owner only).
func (s *Service) SetGroupRole(ctx context.Context, appID, userID string, req protocol.GroupSetRoleRequest) (struct{}, error) {
	if !protocol.ValidUserID(req.UserID) {
		return struct{}{}, protocol.Errorf(protocol.CodeInvalidUserID, "userID is not a valid user ID")
	}
	if req.Role != protocol.RoleAdmin && req.Role != protocol.RoleMember {
		return struct{}{}, protocol.Errorf(protocol.CodeInvalidArgument, "role must be 2 (admin) or 3 (member); use groupTransfer for the owner")
	}
	err := s.setRoles(ctx, appID, req.GroupID, userID, func(sn *groupSnap, me GroupMember) (map[string]int, string, error) {
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

// GroupInfo describes a group to one of its members.
func (s *Service) GroupInfo(ctx context.Context, appID, userID string, req protocol.GroupRequest) (protocol.GroupReply, error) {
	sn, me, err := s.memberOf(ctx, appID, userID, req.GroupID)
	if err != nil {
		return protocol.GroupReply{}, err
	}
	return protocol.GroupReply{Group: wireGroup(sn.group, me.Role)}, nil
}

// GroupMembers pages through a group's members, for its members only.
func (s *Service) GroupMembers(ctx context.Context, appID, userID string, req protocol.GroupMembersRequest) (protocol.GroupMembersReply, error) {
	if _, _, err := s.memberOf(ctx, appID, userID, req.GroupID); err != nil {
		return protocol.GroupMembersReply{}, err
	}
	n, perr := protocol.PageCount(req.Count)
	if perr != nil {
		return protocol.GroupMembersReply{}, perr
	}
	ms, err := s.store.GroupMembers(ctx, appID, req.GroupID, req.Next, n+1)
	if err != nil {
		return protocol.GroupMembersReply{}, fmt.Errorf("im: group members: %w", err)
	}
	out := protocol.GroupMembersReply{Members: make([]protocol.GroupMember, 0, min(len(ms), n))}
	if len(ms) > n {
		ms = ms[:n]
		out.Next = ms[n-1].UserID
	}
	for _, m := range ms {
		out.Members = append(out.Members, protocol.GroupMember{UserID: m.UserID, Role: m.Role, JoinedAt: m.JoinedAt.UnixMilli()})
	}
	return out, nil
}

// GroupList pages through the caller's groups.
func (s *Service) GroupList(ctx context.Context, appID, userID string, req protocol.GroupListRequest) (protocol.GroupListReply, error) {
	n, perr := protocol.PageCount(req.Count)
	if perr != nil {
		return protocol.GroupListReply{}, perr
	}
	gs, err := s.store.UserGroups(ctx, appID, userID, req.Next, n+1)
	if err != nil {
		return protocol.GroupListReply{}, fmt.Errorf("im: group list: %w", err)
	}
	out := protocol.GroupListReply{Groups: make([]protocol.Group, 0, min(len(gs), n))}
	if len(gs) > n {
		gs = gs[:n]
		out.Next = gs[n-1].ID
	}
	for _, g := range gs {
		out.Groups = append(out.Groups, wireGroup(g.Group, g.Role))
	}
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

// groupPushLoop turns group messages' offline pushes into push jobs, a page
// of members per transaction, until stop.
func (s *Service) groupPushLoop(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for {
			fs, err := s.store.GroupFanouts(ctx, 16)
			if err != nil {
				s.log.Warn("reading group pushes failed; retrying", "err", err)
				break
			}
			for _, f := range fs {
				if err := s.planGroupPush(ctx, f); err != nil {
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
		for _, m := range ms {
			if m.UserID != f.Sender && m.JoinedSeq < f.Seq && !s.router.Online(f.AppID, m.UserID) {
				users = append(users, m.UserID)
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
		if next == "" {
			s.metrics.groupPushSeconds.Observe(time.Since(start).Seconds())
			return nil
		}
		after = next
		f.AfterUser = next
	}
}
