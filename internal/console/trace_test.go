package console_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/heraldim/herald/internal/console/consoletest"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
	"github.com/heraldim/herald/internal/testkit"
)

// sendTo sends a text message from c to user with push config pc (nil
// for none) and returns its message ID, a decimal string.
func sendTo(t *testing.T, c *testkit.Client, user, localID string, pc *protocol.PushConfig) string {
	t.Helper()
	var r protocol.SendReply
	if err := c.Call(protocol.TypeSend, protocol.SendRequest{ConversationID: user, LocalMessageID: localID, Type: protocol.MessageText,
		Text: "hi", PushConfig: pc}, &r); err != nil {
		t.Fatal(err)
	}
	return r.MessageID
}

// The trace page: a message sent to an offline user shows its job
// delivered to the emulator with the attempt; the explanation says
// "pushed" (delivered) for it, "delivered_live" (inferred) for a
// recipient who was online, "no_push_config" for a message without push
// config; a device's trace shows its binding changes; the IDs are shown
// as the server sent them, never rounded.
func TestTracePage(t *testing.T) {
	c := consoletest.Start(t, nil)
	ph := startPhones(t, c.Server)
	erin, erinPhone := ph.login("erin", 1)
	ph.offline(erin, "erin")
	bob, _ := ph.login("bob", 1)
	defer bob.Close()
	alice := c.Server.LoginAs(t, "alice", "android", "a")
	alice.SyncDone(consoletest.Timeout)
	pc := &protocol.PushConfig{Title: "Alice", Content: "hello"}

	offline := sendTo(t, alice, "erin", "off", pc)
	var jobID int64
	ph.until("erin's job delivered", func() bool {
		jobs, _, err := c.Server.Srv.PushTrace(context.Background(), push.TraceFilter{AppID: c.Server.App.AppID, UserID: "erin"})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 1 && jobs[0].Status == push.JobDelivered {
			jobID = jobs[0].ID
			return true
		}
		return false
	})
	// Message IDs are above 2^53: a JavaScript number would round them,
	// and the page would show (and look up) another message.
	if id, err := strconv.ParseInt(offline, 10, 64); err != nil || id <= 1<<53 {
		t.Fatalf("message ID %s: %v; want one above 2^53, that this test checks is shown unrounded", offline, err)
	}
	live := sendTo(t, alice, "bob", "live", pc)
	plain := sendTo(t, alice, "erin", "plain", nil)

	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)

	// The message's trace, from the route (as other pages link to it).
	c.Go("trace?message="+offline, "Delivery trace")
	jobs := `.table-wrap[aria-label^="Push jobs of message ` + offline + `"]`
	c.WaitText(`#trace-result`, "Trace of message "+offline)
	c.WaitText(jobs, "delivered HTTP 200")
	c.WaitText(jobs, strconv.FormatInt(jobID, 10))
	c.WaitText(jobs, erinPhone)
	c.WaitText(jobs+" tbody", offline)
	if got := c.Text(jobs + ` [data-status]`); got != "delivered" {
		t.Fatalf("job status %q, want delivered", got)
	}
	if n := c.Count(fmt.Sprintf(`%s a[href="#/trace?message=%s&user=erin"]`, jobs, offline)); n != 1 {
		t.Fatalf("%d links from the job to its explanation, want 1", n)
	}
	c.WaitJS(fmt.Sprintf(`document.querySelector('input[name="message"]').value === %s`, consoletest.JS(offline)), "the route's message ID in the form", "")

	// Why it was pushed to erin, asked with the form: the verdict first,
	// with its code and the evidence, the focus on the result.
	c.Type(`form[aria-label="Trace"] input[name="user"]`, "erin")
	c.Click(`form[aria-label="Trace"] button[type="submit"]`)
	c.WaitText(`[data-testid="verdict"]`, "pushed")
	c.WaitJS(`document.activeElement && document.activeElement.id === "trace-result"`, "the focus on the result's heading", "")
	if got := c.Text(`[data-testid="reason"]`); got != "delivered" {
		t.Fatalf("reason %q, want delivered", got)
	}
	if n := c.Count(`[data-testid="inferred"]`); n != 0 {
		t.Fatal("a recorded delivery is marked inferred")
	}
	c.WaitText(`[data-testid="explain"] .table-wrap[aria-label^="Devices bound to erin"]`, erinPhone)
	c.WaitText(`[data-testid="explain"] .table-wrap[aria-label^="Push jobs of message"]`, "delivered HTTP 200")
	c.WaitText(`[role="status"]`, "Verdict pushed, delivered")
	c.WaitJS(`location.hash === "#/trace?message=`+offline+`&user=erin"`, "the route carrying both filters", "")
	c.Screenshot("trace")

	// bob was online: no job, an inference.
	c.Go("trace?message="+live+"&user=bob", "Delivery trace")
	c.WaitText(`[data-testid="reason"]`, "delivered_live")
	c.WaitText(`[data-testid="verdict"]`, "not pushed")
	c.WaitText(`[data-testid="inferred"]`, "inferred")
	c.WaitText(`[data-testid="explain"] .table-wrap[aria-label^="Push jobs of message"]`, "No push job.")

	// A message without a push config.
	c.Go("trace?message="+plain+"&user=erin", "Delivery trace")
	c.WaitText(`[data-testid="reason"]`, "no_push_config")
	c.WaitText(`[data-testid="explain"]`, "without a push config")

	// A device: its jobs and its binding changes.
	c.Go("trace?pushID="+erinPhone, "Delivery trace")
	c.WaitText(`.table-wrap[aria-label^="Binding changes of device"]`, "bound")
	c.WaitText(`.table-wrap[aria-label^="Push jobs of device"]`, offline)

	// A user's.
	c.Go("trace?user=erin", "Delivery trace")
	c.WaitText(`.table-wrap[aria-label^="Push jobs of user erin"]`, offline)

	// Bad input: said on the page, nothing asked of the server; the
	// server's own refusals show its code.
	c.Go("trace", "Delivery trace")
	c.Type(`form[aria-label="Trace"] input[name="message"]`, "12ab")
	c.Click(`form[aria-label="Trace"] button[type="submit"]`)
	c.WaitText(`form[aria-label="Trace"] .error-box`, "positive decimal integer")
	c.Go("trace?user=a%3Ab", "Delivery trace")
	c.WaitText(`#trace-result ~ .error-box`, fmt.Sprint(protocol.CodeInvalidUserID))
}

// At 360 px the trace page does not overflow sideways: the wide job
// tables scroll in their own box.
func TestTracePageNarrow(t *testing.T) {
	c := consoletest.Start(t, nil)
	ph := startPhones(t, c.Server)
	erin, _ := ph.login("erin", 1)
	ph.offline(erin, "erin")
	alice := c.Server.LoginAs(t, "alice", "android", "a")
	alice.SyncDone(consoletest.Timeout)
	id := sendTo(t, alice, "erin", "off", &protocol.PushConfig{Title: "Alice", Content: "hello"})
	c.SignIn(c.Server.App.AppID, c.Server.App.AdminKey)
	c.Narrow(true)
	c.Go("trace?message="+id+"&user=erin", "Delivery trace")
	c.WaitText(`[data-testid="verdict"]`, "")
	c.WaitJS(`!!document.querySelector('[data-testid="explain"] table')`, "the explanation", "")
	c.WaitJS(`document.documentElement.scrollWidth <= window.innerWidth`, "no sideways overflow at 360 px", "")
	c.Screenshot("trace-narrow")
}
