package push

import (
	"errors"
	"testing"
)

func TestJobRefRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 42, 1<<48 - 1} {
		ref := JobRef(id)
		got, err := ParseJobRef(ref)
		if err != nil || got != id {
			t.Errorf("ParseJobRef(%q) = %d, %v; want %d", ref, got, err, id)
		}
	}
	for _, bad := range []string{"", "42", "00000000-0000-4000-8000-00000000000", "00000000-0000-4000-8000-000000000000",
		"00000000-0000-4000-8000-00000000000g", "10000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-0000000000011"} {
		if _, err := ParseJobRef(bad); !errors.Is(err, ErrBadReceipt) {
			t.Errorf("ParseJobRef(%q): %v, want ErrBadReceipt", bad, err)
		}
	}
}

// TestReceiptSupported: notificationArrived where the capability table has
// the vendor's SDK raise it (the seed's Apple and Xiaomi, and Web Push's
// service worker), taps everywhere.
func TestReceiptSupported(t *testing.T) {
	for _, v := range Vendors {
		arrived := v == VendorAPNs || v == VendorXiaomi || v == VendorWebPush
		if got := ReceiptSupported(v, ReceiptArrived); got != arrived {
			t.Errorf("%s arrived: %v, want %v", v, got, arrived)
		}
		if !ReceiptSupported(v, ReceiptClicked) {
			t.Errorf("%s clicked: unsupported", v)
		}
	}
	if ReceiptSupported("nokia", ReceiptClicked) {
		t.Error("an unknown vendor takes receipts")
	}
	if _, err := ParseReceiptKind("notificationOpened"); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("ParseReceiptKind: %v", err)
	}
}

func TestFinishStats(t *testing.T) {
	for _, c := range []struct {
		name         string
		f            Finish
		sent         bool
		end, because string
	}{
		{"accepted", Finish{Sent: true, Status: JobDelivered, Attempt: Attempt{Outcome: "delivered"}}, true, StatAccepted, ""},
		{"a retry", Finish{Sent: true, Status: JobPending, Attempt: Attempt{Outcome: "retry"}}, true, "", ""},
		{"refused token", Finish{Sent: true, Status: JobDropped, Attempt: Attempt{Outcome: "drop_device"}}, true, StatFailed, "drop_device"},
		{"no answer, attempts used up", Finish{Sent: true, Status: JobFailed, Attempt: Attempt{Outcome: "failed"}}, true, StatFailed, "failed"},
		{"expired before the call", Finish{Status: JobExpired, Attempt: Attempt{Outcome: "expired"}}, false, StatFailed, "expired"},
		{"held back", Finish{NoCall: true, Status: JobPending, Attempt: Attempt{Outcome: "held"}}, false, "", ""},
	} {
		sent, end, reason := FinishStats(c.f)
		if sent != c.sent || end != c.end || reason != c.because {
			t.Errorf("%s: %v %q %q, want %v %q %q", c.name, sent, end, reason, c.sent, c.end, c.because)
		}
	}
}
