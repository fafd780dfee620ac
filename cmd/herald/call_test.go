package main

import (
	"strings"
	"testing"
	"time"
)

func TestCLICalls(t *testing.T) {
	r := newCLIRunner(t)
	bob := r.listen("bob")
	r.ok("group", "list", "--as", "carol") // users must have logged in once

	// Invite with a push config; an unknown invitee is reported on stderr.
	out, stderr, err := r.run("call", "invite", "--as", "alice", "--to", "bob,nobody", "--timeout", "30", "--title", "Alice", "--content", "calling")
	if err != nil {
		t.Fatalf("call invite: %v\n%s", err, stderr)
	}
	id := strings.TrimSpace(out)
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("call invite printed %q", out)
	}
	if !strings.Contains(stderr, "nobody") || !strings.Contains(stderr, "40401") {
		t.Errorf("errorInvitees not on stderr: %q", stderr)
	}
	ev := bob.waitLine(`"callInvitationReceived"`, id)
	if ev["inviter"] != "alice" || ev["mode"] != "general" || ev["timeout"].(float64) < 1 || ev["timeout"].(float64) > 30 {
		t.Errorf("callInvitationReceived line %v", ev)
	}
	r.ok("call", "accept", "--as", "bob", id)
	r.refused("40904", "call", "accept", "--as", "bob", id)
	r.refused("40302", "call", "reject", "--as", "carol", id)
	info := jsonLinesOf(t, r.ok("call", "info", "--as", "alice", id))
	if len(info) != 1 || info[0]["callID"] != id || info[0]["inviter"] != "alice" || !strings.Contains(r.ok("call", "info", "--as", "alice", id), `"userID":"bob","state":"accepted"`) {
		t.Errorf("call info printed %v", info)
	}
	r.refused("40403", "call", "info", "--as", "alice", "nosuchcall")
	r.refused("40016", "call", "invite", "--as", "alice", "--to", "alice")
	r.refused("40017", "call", "invite", "--as", "alice", "--to", "bob", "--timeout", "601")
	if _, _, err := r.run("call", "invite", "--as", "alice", "--to", "bob", "--mode", "bogus"); err == nil {
		t.Error("--mode bogus succeeded")
	}

	// Cancel with a push config; a late answer fails.
	id2 := strings.TrimSpace(r.ok("call", "invite", "--as", "alice", "--to", "bob,carol"))
	bob.waitLine(`"callInvitationReceived"`, id2)
	r.refused("40301", "call", "cancel", "--as", "bob", id2)
	r.ok("call", "cancel", "--as", "alice", id2, "--to", "bob", "--title", "Alice", "--content", "cancelled")
	bob.waitLine(`"callInvitationCancelled"`, id2)
	r.refused("41001", "call", "reject", "--as", "bob", id2)
	r.ok("call", "reject", "--as", "carol", id2)

	// Carol is offline: her invitation times out.
	id3 := strings.TrimSpace(r.ok("call", "invite", "--as", "alice", "--to", "carol", "--timeout", "1"))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(r.ok("call", "info", "--as", "alice", id3), `"userID":"carol","state":"timeout"`) {
		if time.Now().After(deadline) {
			t.Fatalf("carol's invitation did not time out: %s", r.ok("call", "info", "--as", "alice", id3))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Advanced mode: accept, then the inviter ends the call.
	id4 := strings.TrimSpace(r.ok("call", "invite", "--as", "alice", "--to", "bob", "--mode", "advanced"))
	bob.waitLine(`"callInvitationReceived"`, id4, `"advanced"`)
	r.ok("call", "accept", "--as", "bob", id4)
	r.ok("call", "end", "--as", "alice", id4)
	end := bob.waitLine(`"callInvitationEnded"`, id4)
	if end["operatedBy"] != "alice" || end["endedAt"] == nil {
		t.Errorf("callInvitationEnded line %v", end)
	}
	bob.waitLine(`"callUserStateChanged"`, id4)
	bob.stop()
}
