package push

import (
	"maps"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	family = "👨‍👩‍👧‍👦" // one grapheme: four emoji joined by ZWJ, 25 bytes
	flagJP = "🇯🇵"      // one grapheme: two regional indicators, 8 bytes
	flagFR = "🇫🇷"
	thumbs = "👍🏽"      // one grapheme: emoji and skin tone, 8 bytes
	eAcute = "e\u0301" // one grapheme: letter and combining acute, 3 bytes
)

func TestCutBytes(t *testing.T) {
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"fits", "hello", 10, "hello"},
		{"empty", "", 0, ""},
		{"ascii, trailing space dropped", "hello world", 8, "hello…"},
		{"ZWJ sequence kept whole", "ab" + family + "cd", 20, "ab…"},
		{"ZWJ sequence fits", "ab" + family + "cdef", 30, "ab" + family + "…"},
		{"flags", flagJP + flagFR, 14, flagJP + "…"},
		{"flag never halved", flagJP + flagFR, 10, "…"},
		{"skin tone", thumbs + thumbs, 12, thumbs + "…"},
		{"combining mark", eAcute + eAcute + eAcute, 8, eAcute + "…"},
		{"CJK", "晚上一起吃饭吗", 12, "晚上一…"},
		{"only the ellipsis fits", "hello", 3, "…"},
		{"nothing fits", "hello", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CutBytes(tt.s, tt.max)
			if got != tt.want {
				t.Fatalf("CutBytes(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
			if len(got) > tt.max {
				t.Fatalf("%q is %d bytes, over %d", got, len(got), tt.max)
			}
		})
	}
}

func TestCutRunesAndUnits(t *testing.T) {
	twoPerRune := func(s string) int { return 2 * utf8.RuneCountInString(s) }
	tests := []struct {
		name string
		cut  func(string) string
		s    string
		want string
	}{
		{"runes: fits", func(s string) string { return CutRunes(s, 5) }, "hello", "hello"},
		{"runes: flag is two", func(s string) string { return CutRunes(s, 3) }, flagJP + flagFR, flagJP + "…"},
		{"runes: ZWJ sequence is seven", func(s string) string { return CutRunes(s, 7) }, family + "x", "…"},
		{"runes: ZWJ sequence fits", func(s string) string { return CutRunes(s, 8) }, family + "xy", family + "…"},
		{"runes: CJK", func(s string) string { return CutRunes(s, 4) }, "晚上一起吃饭", "晚上一…"},
		{"units", func(s string) string { return CutUnits(s, 8, twoPerRune) }, "abcdef", "abc…"},
		{"units: combining mark stays", func(s string) string { return CutUnits(s, 6, twoPerRune) }, "a" + eAcute + "b", "a…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cut(tt.s); got != tt.want {
				t.Fatalf("cut %q = %q, want %q", tt.s, got, tt.want)
			}
		})
	}
}

// callExtra is the custom data of the notifications TestFitTo cuts: 8
// bytes that byteLimit counts.
var callExtra = map[string]string{"callID": "c1"}

// byteLimit is a Limits.Fits that counts title, content, payload and
// custom data bytes against max.
func byteLimit(max int) func(Notification) bool {
	return func(n Notification) bool {
		size := len(n.Title) + len(n.Content) + len(n.Payload)
		for k, v := range n.Extra {
			size += len(k) + len(v)
		}
		return size <= max
	}
}

func TestFitTo(t *testing.T) {
	long := strings.Repeat("a", 500)
	tests := []struct {
		name        string
		n           Notification
		limits      Limits
		wantTitle   string
		wantContent string
		wantPayload string
		wantFlag    string
		wantNote    string
	}{
		{
			name:      "fits as it is",
			n:         Notification{Title: "t", Content: "c", Payload: "p"},
			limits:    Limits{Fits: byteLimit(100)},
			wantTitle: "t", wantContent: "c", wantPayload: "p",
		},
		{
			name:      "field limits",
			n:         Notification{Title: "a long title", Content: "hello " + thumbs + thumbs, Payload: "p"},
			limits:    Limits{Vendor: VendorOPPO, Title: func(s string) string { return CutRunes(s, 5) }, Content: func(s string) string { return CutRunes(s, 9) }},
			wantTitle: "a lo…", wantContent: "hello " + thumbs + "…", wantPayload: "p", wantFlag: "title,content",
			wantNote: "cut to fit oppo's limits: title cut from 12 to 5 characters (12 to 7 bytes) at a grapheme boundary, content cut from 8 to 8 characters",
		},
		{
			name:      "content cut, payload kept",
			n:         Notification{Title: "t", Content: long, Payload: strings.Repeat("p", 100)},
			limits:    Limits{Vendor: VendorAPNs, Fits: byteLimit(400)},
			wantTitle: "t", wantContent: strings.Repeat("a", 400-8-1-100-3-len(TruncatedKey)-len("content")) + "…", wantPayload: strings.Repeat("p", 100),
			wantFlag: "content",
		},
		{
			name:      "payload dropped before content goes under its preview",
			n:         Notification{Title: "t", Content: long, Payload: strings.Repeat("p", 1000)},
			limits:    Limits{Vendor: VendorAPNs, Fits: byteLimit(600)},
			wantTitle: "t", wantContent: long, wantFlag: "payload",
			wantNote: "cut to fit apns's limits: payload of 1000 bytes dropped (heraldTruncated=payload)",
		},
		{
			name:      "content kept at its preview, title cut, payload kept",
			n:         Notification{Title: strings.Repeat("T", 100), Content: long, Payload: strings.Repeat("p", 100)},
			limits:    Limits{Fits: byteLimit(8 + 100 + 100 + 3 + 40 + 3 + len(TruncatedKey) + len("title,content"))},
			wantTitle: strings.Repeat("T", 40) + "…", wantContent: strings.Repeat("a", 100) + "…", wantPayload: strings.Repeat("p", 100),
			wantFlag: "title,content",
		},
		{
			name:      "everything cut",
			n:         Notification{Title: strings.Repeat("T", 100), Content: long, Payload: strings.Repeat("p", 100)},
			limits:    Limits{Fits: byteLimit(8 + len(TruncatedKey) + len("title,content,payload") + 3 + 3 + 10)},
			wantTitle: strings.Repeat("T", 10) + "…", wantContent: "…",
			wantFlag: "title,content,payload",
		},
		{
			name:      "cannot fit",
			n:         Notification{Title: "t", Content: "c", Payload: "p"},
			limits:    Limits{Vendor: VendorFCM, Fits: func(Notification) bool { return false }},
			wantTitle: "…", wantContent: "…", wantFlag: "title,content,payload",
			wantNote: "fcm: still over the vendor's size limit after cutting",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.n.Extra = maps.Clone(callExtra)
			got, notes := FitTo(tt.n, tt.limits)
			if got.Title != tt.wantTitle || got.Content != tt.wantContent || got.Payload != tt.wantPayload {
				t.Fatalf("got title %q content %q payload %q\nwant %q %q %q", got.Title, got.Content, got.Payload, tt.wantTitle, tt.wantContent, tt.wantPayload)
			}
			if got.Extra[TruncatedKey] != tt.wantFlag || got.Extra["callID"] != "c1" {
				t.Fatalf("extra %v, want %s=%q", got.Extra, TruncatedKey, tt.wantFlag)
			}
			if !maps.Equal(tt.n.Extra, callExtra) {
				t.Fatalf("the caller's Extra was changed: %v", tt.n.Extra)
			}
			if tt.limits.Fits != nil && tt.wantNote == "" && tt.wantFlag != "" && !tt.limits.Fits(got) {
				t.Fatalf("the result does not fit: %+v", got)
			}
			joined := strings.Join(notes, "; ")
			if (tt.wantFlag == "") != (joined == "") || !strings.Contains(joined, tt.wantNote) {
				t.Fatalf("notes %q, want one containing %q", joined, tt.wantNote)
			}
		})
	}
}
