package gateway

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldim/herald/internal/route"
	"github.com/heraldim/herald/internal/route/routetest"
)

// TestHubRouteContract runs the routing contract against the one-node hub.
func TestHubRouteContract(t *testing.T) {
	routetest.Run(t, func(*testing.T) routetest.Node { return hubNode{NewHub()} })
}

// hubNode makes bare sessions (a queue, no connection) for the contract.
type hubNode struct{ *Hub }

func (h hubNode) Login(_ *testing.T, appID, userID, platform string) routetest.Session {
	s := &Session{id: newID(), appID: appID, userID: userID, platform: platform, since: time.Now(), q: newQueue(64, nil)}
	h.register(s, PolicyMulti)
	return hubSession{h.Hub, s}
}

func (hubNode) Settle(*testing.T) {} // the hub hands over synchronously

type hubSession struct {
	h *Hub
	s *Session
}

func (s hubSession) ID() route.SessionID { return route.SessionID(s.s.id) }
func (s hubSession) Logout()             { s.h.unregister(s.s) }

func (s hubSession) Received() []routetest.Got {
	items, _ := s.s.q.pop(nil)
	var got []routetest.Got
	for _, it := range items {
		switch it.kind {
		case kindMessage:
			got = append(got, routetest.Got{MsgID: it.msg.ID, Floor: it.floor})
		case kindFrame:
			var f struct{ Type string }
			_ = json.Unmarshal(it.frame, &f)
			got = append(got, routetest.Got{Event: f.Type})
		}
	}
	return got
}
