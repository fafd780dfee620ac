package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldim/herald/internal/bus"
	"github.com/heraldim/herald/internal/call"
	"github.com/heraldim/herald/internal/gateway"
	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/route"
	"github.com/heraldim/herald/internal/webhook"
)

// Control operations broadcast between the nodes of a cluster (bus.Control).
const (
	opKickUser    = "kickUser"    // admin kick: close the user's sessions
	opRevoke      = "revoke"      // token revocation: close those issued before At
	opCloseApp    = "closeApp"    // app disabled or deleted: close its sessions
	opAppChanged  = "appChanged"  // the app's credentials or state changed: drop the cached copy
	opAppDeleting = "appDeleting" // the app is being deleted: drop its acks and calls
	opForgetUser  = "forgetUser"  // the user changed through the server API: drop what is cached
	opWebhooks    = "webhooks"    // an app's webhook configuration changed: read it again
	opGroup       = "group"       // a group changed: drop its cached snapshot
	opPushRule    = "pushRule"    // a user's offline push rule changed: drop its cached copy
	opCredentials = "credentials" // an app's push credentials changed: install them again
	// opWakeWorkers (workers.go): work written for the leader-only loops
)

// router is what the messaging core routes through: the hub alone, or
// the bus over it in a cluster.
type router interface {
	im.Router
	route.Presence
	route.Events
	call.Hub
}

// busRouter is the bus as the router of im and calls: their domain events
// go out as the wire events the bus carries.
type busRouter struct{ *bus.Bus }

func (r busRouter) GroupEvent(appID, userID string, ev im.GroupEvent) {
	typ, v := gateway.WireGroupEvent(ev)
	r.SendEvent(appID, userID, typ, v)
}

func (r busRouter) CallEvent(appID, userID string, ev call.Event) {
	typ, v := gateway.WireCallEvent(ev)
	r.SendEvent(appID, userID, typ, v)
}

// newBus builds and connects the node's bus when cfg.Bus is set (nil
// otherwise: nothing of the cluster runs). The bus's node ID is the
// host name, the node number and six random hex digits: unique per run,
// so that a restarted node is a new node to the others (its old sessions
// expire with its silence, not with its return).
func (s *Server) newBus(ctx context.Context) (*bus.Bus, error) {
	if s.cfg.Bus == "" {
		return nil, nil
	}
	host, _ := os.Hostname()
	host = strings.NewReplacer(".", "-", " ", "-", "*", "-", ">", "-").Replace(host)
	r := make([]byte, 3)
	if _, err := rand.Read(r); err != nil {
		return nil, fmt.Errorf("server: bus node ID: %w", err)
	}
	id := fmt.Sprintf("%s-%d-%s", host, s.cfg.NodeNumber, hex.EncodeToString(r))
	b, err := bus.New(bus.Config{URL: s.cfg.Bus, NodeID: id, Prefix: s.cfg.BusPrefix,
		Displaced: func(appID, userID string, remote []route.SessionInfo) {
			if gw := s.kicker.Load(); gw != nil {
				gw.KickDisplaced(appID, userID, remote)
			}
		},
		NodeLost: s.sessionsLost,
		Reconnected: func() {
			// Invalidations broadcast while the node was cut off were
			// missed: read everything again.
			if s.kicker.Load() == nil {
				return // still starting: nothing cached to distrust
			}
			s.svc.ForgetAll()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.webhooks.Load(ctx); err != nil {
				s.log.Warn("bus: reloading the webhook configurations after a reconnect", "err", err)
			}
			// Credentials stored meanwhile (one removed meanwhile stays
			// installed until the node restarts or it changes again).
			if err := s.admin.LoadProviders(ctx); err != nil {
				s.log.Warn("bus: reloading the push credentials after a reconnect", "err", err)
			}
		}}, s.hub, s.log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.Connect(cctx); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.log.Info("bus connected", "url", s.cfg.Bus, "node", id)
	s.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "herald_bus_publish_failures_total",
		Help: "Publishes to the cluster's bus that failed (deliveries, presence updates, broadcasts not sent; the clients sync what they missed).",
	}, func() float64 { return float64(b.PublishFailures()) }))
	return b, nil
}

// handleControl registers what this node does on the other nodes'
// broadcasts; called once everything they touch is built.
func (s *Server) handleControl() {
	b := s.bus
	if b == nil {
		return
	}
	s.kicker.Store(s.gw)
	b.Handle(opKickUser, func(c bus.Control) { s.hub.KickUser(c.AppID, c.UserID) })
	b.Handle(opRevoke, func(c bus.Control) {
		s.svc.ForgetUser(c.AppID, c.UserID)
		s.hub.CloseRevoked(c.AppID, c.UserID, time.UnixMilli(c.At))
	})
	b.Handle(opCloseApp, func(c bus.Control) {
		s.svc.ForgetApp(c.AppID)
		s.gw.CloseApp(context.Background(), c.AppID)
	})
	b.Handle(opAppChanged, func(c bus.Control) { s.svc.ForgetApp(c.AppID) })
	b.Handle(opAppDeleting, func(c bus.Control) {
		s.svc.ForgetApp(c.AppID)
		s.svc.DropApp(c.AppID)
		s.calls.ForgetApp(c.AppID)
	})
	b.Handle(opForgetUser, func(c bus.Control) { s.svc.ForgetUser(c.AppID, c.UserID) })
	b.Handle(opWebhooks, func(c bus.Control) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.webhooks.Reload(ctx, c.AppID); err != nil {
			s.log.Warn("bus: reloading an app's webhook configuration", "app", c.AppID, "err", err)
		}
		s.webhooks.Wake() // events held while it was disabled
	})
	b.Handle(opWakeWorkers, func(bus.Control) {
		s.webhooks.Wake()
		s.svc.WakeGroupPushes()
	})
	b.Handle(opGroup, func(c bus.Control) { s.svc.ForgetGroup(c.AppID, c.UserID) })
	b.Handle(opPushRule, func(c bus.Control) { s.svc.ForgetPushRule(c.AppID, c.UserID) })
	b.Handle(opCredentials, func(c bus.Control) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.admin.ReloadProviders(ctx, c.AppID); err != nil {
			s.log.Warn("bus: reloading an app's push credentials", "app", c.AppID, "err", err)
		}
	})
}

// clusterCredentials tells the other nodes when an app's push credentials
// changed here, so that they install the same providers.
type clusterCredentials struct{ s *Server }

func (c clusterCredentials) CredentialsChanged(appID string) {
	c.s.broadcast(bus.Control{Op: opCredentials, AppID: appID})
}

// broadcast sends c to the other nodes; without a bus it does nothing.
func (s *Server) broadcast(c bus.Control) {
	if s.bus != nil {
		s.bus.Broadcast(c)
	}
}

// clusterSessions closes sessions on every node for the admin API: this
// node's at once (counted), the others' by broadcast. The count is this
// node's and the others' as presence last reported them.
type clusterSessions struct{ s *Server }

func (c clusterSessions) remote(appID, userID string) int {
	if c.s.bus == nil {
		return 0
	}
	return len(c.s.bus.RemoteSessions(appID, userID))
}

func (c clusterSessions) KickUser(appID, userID string) int {
	n := c.remote(appID, userID)
	c.s.broadcast(bus.Control{Op: opKickUser, AppID: appID, UserID: userID})
	return n + c.s.hub.KickUser(appID, userID)
}

func (c clusterSessions) CloseRevoked(appID, userID string, cutoff time.Time) int {
	c.s.broadcast(bus.Control{Op: opRevoke, AppID: appID, UserID: userID, At: cutoff.UnixMilli()})
	return c.s.hub.CloseRevoked(appID, userID, cutoff)
}

func (c clusterSessions) UserSessions(appID, userID string) []route.SessionInfo {
	return c.s.router.UserSessions(appID, userID)
}

// clusterUsers drops a user's cached state on every node.
type clusterUsers struct{ s *Server }

func (c clusterUsers) ForgetUser(appID, userID string) {
	c.s.svc.ForgetUser(appID, userID)
	c.s.broadcast(bus.Control{Op: opForgetUser, AppID: appID, UserID: userID})
}

// clusterWebhooks tells the other nodes when an app's webhook
// configuration changed here.
type clusterWebhooks struct {
	*webhook.Service
	s *Server
}

func (c clusterWebhooks) Put(ctx context.Context, appID string, u webhook.Update) (webhook.Config, string, error) {
	cfg, secret, err := c.Service.Put(ctx, appID, u)
	if err == nil {
		c.s.broadcast(bus.Control{Op: opWebhooks, AppID: appID})
	}
	return cfg, secret, err
}

func (c clusterWebhooks) Delete(ctx context.Context, appID string) error {
	err := c.Service.Delete(ctx, appID)
	if err == nil {
		c.s.broadcast(bus.Control{Op: opWebhooks, AppID: appID})
	}
	return err
}

// presenceHooks tells the webhooks and the bus of logins and session ends.
type presenceHooks struct {
	wh  presence
	bus *bus.Bus // nil: one node
}

var _ gateway.Presence = presenceHooks{}

func (p presenceHooks) LoggedIn(e gateway.PresenceEvent) {
	p.wh.LoggedIn(e)
	if p.bus != nil {
		p.bus.UserChanged(e.AppID, e.UserID)
	}
}

// SessionChanged implements gateway.SessionChanged: a session's PushID
// changed, which presence carries.
func (p presenceHooks) SessionChanged(appID, userID string) {
	if p.bus != nil {
		p.bus.UserChanged(appID, userID)
	}
}

// pushRuleChanged is the messaging core's PushRuleChanged hook: the other
// nodes drop their cached copy of the user's rule.
func (s *Server) pushRuleChanged(appID, userID string) {
	s.broadcast(bus.Control{Op: opPushRule, AppID: appID, UserID: userID})
}

func (p presenceHooks) LoggedOut(e gateway.PresenceEvent) {
	p.wh.LoggedOut(e)
	if p.bus != nil {
		p.bus.UserChanged(e.AppID, e.UserID)
	}
}

// remoteSessions is the gateway's view of the other nodes' sessions (nil
// for one node).
func (s *Server) remoteSessions() gateway.RemoteSessions {
	if s.bus == nil {
		return nil
	}
	return s.bus
}

// groupChanged is the messaging core's GroupChanged hook: the other
// nodes drop their copy of the group.
func (s *Server) groupChanged(appID, groupID string) {
	s.broadcast(bus.Control{Op: opGroup, AppID: appID, UserID: groupID})
}

// UserSessions returns a user's live sessions (on every node of a
// cluster), oldest first.
func (s *Server) UserSessions(appID, userID string) []route.SessionInfo {
	return s.router.UserSessions(appID, userID)
}

// WantsWebhook reports whether the app's webhook configuration, as this
// node has it, subscribes to event.
func (s *Server) WantsWebhook(appID, event string) bool { return s.webhooks.Wants(appID, event) }

// callsLeadership names the leadership of the call service.
const callsLeadership = "calls"

// runCalls runs the call service until ctx is done: on one node at once;
// in a cluster while this node leads the calls, as often as it becomes
// the leader.
func (s *Server) runCalls(ctx context.Context) error {
	if s.callLeader == nil {
		return s.calls.Run(ctx)
	}
	return s.callLeader.Run(ctx, s.leadCalls)
}

// leadCalls is one term of this node as the calls' leader: it loads the
// open calls from the store (their deadlines too: one that passed during
// the failover fires at once), runs their timers and answers the other
// nodes' requests until ctx is done, then drops the state. A load that
// fails ends the term: the lock goes back and the campaign tries again.
func (s *Server) leadCalls(ctx context.Context) {
	s.calls.Reset()
	defer s.calls.Reset()
	if err := s.calls.Load(ctx); err != nil {
		if ctx.Err() == nil {
			s.log.Error("calls: loading the open calls as the new leader", "err", err)
		}
		return
	}
	termCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- s.calls.Run(termCtx) }()
	// Serve returns when ctx is done, or at once when it could not
	// subscribe: then the term ends, and the lock goes back for another
	// node (or this one) to try again.
	if err := s.callsBus.Serve(termCtx, s.calls); err != nil {
		s.log.Error("calls: serving the cluster's call requests", "err", err)
	}
	cancel()
	if err := <-runDone; err != nil {
		s.log.Warn("calls: timers", "err", err)
	}
	s.log.Info("calls: leadership term ended")
}
