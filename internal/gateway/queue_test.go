package gateway

import (
	"testing"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
)

func msgItem(conv string, seq int64, prio int) item {
	return item{kind: kindMessage, prio: prio, msg: &im.Message{ConvID: conv, Seq: seq, Priority: prio}}
}

func TestQueueSheds(t *testing.T) {
	const L, M, H = protocol.PriorityLow, protocol.PriorityMedium, protocol.PriorityHigh
	cases := []struct {
		name      string
		queued    []int // priorities already queued (queue full at 4)
		incoming  int
		wantOK    bool
		wantPrios []int // priorities left queued, in order
		wantDirty map[string]int64
	}{
		{"low evicted for medium", []int{M, L, M, L}, M, true, []int{M, M, L, M}, map[string]int64{"c1": 1}},
		{"incoming low shed when nothing lower", []int{M, L, M, L}, L, true, []int{M, L, M, L}, map[string]int64{"c9": 8}},
		{"medium evicted for high", []int{H, M, H, H}, H, true, []int{H, H, H, H}, map[string]int64{"c1": 1}},
		{"all high: slow", []int{H, H, H, H}, H, false, []int{H, H, H, H}, nil},
		{"medium into all high: shed itself", []int{H, H, H, H}, M, true, []int{H, H, H, H}, map[string]int64{"c9": 8}},
		{"room left", []int{H, H, H}, L, true, []int{H, H, H, L}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue(4, nil)
			for i, p := range tc.queued {
				q.push(msgItem("c"+string(rune('0'+i)), int64(i+1), p))
			}
			ok := q.push(msgItem("c9", 9, tc.incoming))
			if ok != tc.wantOK {
				t.Fatalf("push ok = %v, want %v", ok, tc.wantOK)
			}
			items, _ := q.pop(nil)
			var prios []int
			for _, it := range items {
				prios = append(prios, it.prio)
			}
			if len(prios) != len(tc.wantPrios) {
				t.Fatalf("queued %v, want %v", prios, tc.wantPrios)
			}
			for i := range prios {
				if prios[i] != tc.wantPrios[i] {
					t.Fatalf("queued %v, want %v", prios, tc.wantPrios)
				}
			}
			_, dirty := q.pop(nil)
			if len(dirty) != len(tc.wantDirty) {
				t.Fatalf("dirty %v, want %v", dirty, tc.wantDirty)
			}
			for k, v := range tc.wantDirty {
				if dirty[k] != v {
					t.Fatalf("dirty %v, want %v", dirty, tc.wantDirty)
				}
			}
		})
	}
}

func TestQueueControlItemsNeverShed(t *testing.T) {
	q := newQueue(2, nil)
	for i := range 4 + maxInflight {
		if !q.push(item{kind: kindFrame, prio: prioControl}) {
			t.Fatalf("control item %d refused below twice the limit plus the in-flight bound", i)
		}
	}
	if q.push(item{kind: kindFrame, prio: prioControl}) {
		t.Fatal("control items past twice the limit plus the in-flight bound must report a slow session")
	}
}

func TestDisplaces(t *testing.T) {
	for _, tc := range []struct {
		policy, newP, oldP string
		want               bool
	}{
		{PolicyPlatform, "ios", "ios", true},
		{PolicyPlatform, "ios", "android", false},
		{PolicySingle, "ios", "android", true},
		{PolicyMulti, "ios", "ios", false},
		{PolicySingle, PlatformServer, "ios", false},
		{PolicyPlatform, PlatformServer, PlatformServer, false},
		{PolicySingle, "ios", PlatformServer, false},
	} {
		if got := displaces(tc.policy, tc.newP, tc.oldP); got != tc.want {
			t.Errorf("displaces(%s, %s, %s) = %v, want %v", tc.policy, tc.newP, tc.oldP, got, tc.want)
		}
	}
}

// TestQueueUnwrittenAfterClose: a closed queue gives the writer nothing,
// and tells the session's end what it held and what it shed.
func TestQueueUnwrittenAfterClose(t *testing.T) {
	const L, H = protocol.PriorityLow, protocol.PriorityHigh
	q := newQueue(2, nil)
	q.push(msgItem("c1", 4, L))
	q.push(item{kind: kindFrame, prio: prioControl, frame: []byte("{}")})
	q.push(msgItem("c2", 7, H)) // over max: sheds c1's low message
	q.close()
	if items, dirty := q.pop(nil); len(items) != 0 || dirty != nil {
		t.Fatalf("closed queue popped %d items, dirty %v", len(items), dirty)
	}
	if !q.push(msgItem("c3", 1, H)) {
		t.Fatal("a push after close must not call the session slow")
	}
	got := map[string]int64{}
	q.unwritten(func(m *im.Message, conv string, before int64) {
		if m != nil && m.ConvID != conv {
			t.Fatalf("message of %s reported for %s", m.ConvID, conv)
		}
		got[conv] = before
	})
	want := map[string]int64{"c1": 3, "c2": 6}
	if len(got) != len(want) || got["c1"] != 3 || got["c2"] != 6 {
		t.Fatalf("unwritten %v, want %v", got, want)
	}
}
