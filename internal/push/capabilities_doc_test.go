package push

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// capabilityRows renders the capability table as the Markdown rows of
// docs/operations.md.
func capabilityRows() string {
	var b strings.Builder
	for _, v := range Vendors {
		for _, st := range AppStates {
			c, _ := CapabilityOf(v, st)
			through := yesNo(c.ThroughMessageReceived)
			if c.ThroughMessageReceived && c.ThroughMessageNeedsPermission != "" {
				through += " (with the high-priority pass-through permission)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", v, st, yesNo(c.Displayed), yesNo(c.NotificationArrived), through)
		}
	}
	return b.String()
}

// TestCapabilityTableDocumented keeps the docs' table equal to the code.
// Run with HERALD_WRITE_DOCS=1 to (re)write the rows.
func TestCapabilityTableDocumented(t *testing.T) {
	const path = "../../docs/operations.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const header = "| vendor | app state | displayed | notificationArrived | throughMessageReceived |\n| --- | --- | --- | --- | --- |\n"
	doc := string(b)
	i := strings.Index(doc, header)
	if i < 0 {
		t.Fatal("docs/operations.md has no capability table")
	}
	start := i + len(header)
	end := start
	for end < len(doc) && strings.HasPrefix(doc[end:], "|") {
		nl := strings.IndexByte(doc[end:], '\n')
		if nl < 0 {
			end = len(doc)
			break
		}
		end += nl + 1
	}
	want := capabilityRows()
	if doc[start:end] == want {
		return
	}
	if os.Getenv("HERALD_WRITE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(doc[:start]+want+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("docs/operations.md's capability table differs from push.CapabilityOf; run HERALD_WRITE_DOCS=1 go test ./internal/push -run TestCapabilityTableDocumented\nwant:\n%s", want)
}
