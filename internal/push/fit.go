package push

import (
	"fmt"
	"maps"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// TruncatedKey is the custom-data key (Notification.Extra, so wherever the
// vendor hands custom data to the app) that says what of the push config
// was cut to fit the vendor's limits: a comma-separated list of "title",
// "content" and "payload", in that order. It is absent when nothing was
// cut. A cut title or content ends with Ellipsis; a cut payload is absent
// altogether (an opaque string cut short would mislead the app). The full
// message is always there for the app to sync.
const TruncatedKey = "heraldTruncated"

// Ellipsis ends a title or content that was cut.
const Ellipsis = "…"

// The floors below which content and title are not cut while the payload
// is kept: a lock screen shows a few lines of a notification, so content
// beyond about 100 characters is worth less than the app's custom data,
// but a preview shorter than that is worth more.
const (
	contentFloor = 100 // grapheme clusters
	titleFloor   = 30  // grapheme clusters
)

// Fitter is implemented by providers whose vendor limits what a push may
// carry. Fit returns n cut to what the vendor accepts, measured with the
// provider's own encoder, and notes for the delivery trace saying what
// was cut (nil, and n unchanged, when it fits as it is). Fit never
// refuses: a push it cannot make fit is returned as small as it could
// make it, and Send reports what is still wrong.
type Fitter interface {
	Fit(n Notification) (Notification, []string)
}

// Limits is what a vendor accepts of a notification, as its provider
// measures it (see FitTo).
type Limits struct {
	// Vendor names the vendor in trace notes.
	Vendor Vendor
	// Title and Content cut each field to the vendor's own limit on it
	// (a count of characters or width units), returning the field
	// unchanged when it is within the limit. Nil: no such limit.
	Title, Content func(string) string
	// Fits reports whether the whole push, encoded as the provider sends
	// it, is within the vendor's size limits. It is called with candidates
	// that carry TruncatedKey as they would be sent. Nil: no size limit.
	Fits func(Notification) bool
	// MaxBytes and Overhead, when MaxBytes > 0, spare the encoding of a
	// push that surely fits: one whose strings, every byte escaped to the
	// most JSON makes of it (6 bytes, \u00XX), plus Overhead bytes for the
	// body's fixed keys and numbers, are within MaxBytes. Encoding once per
	// push only to learn that it fits cost as much CPU as sending it.
	MaxBytes, Overhead int
}

// MaxJSONEscape is the most bytes encoding/json writes for one byte of a
// string: \u00XX for a control character or <, > and &; multi-byte runes
// (U+2028 and U+2029 included: 3 bytes to 6) never grow more.
const MaxJSONEscape = 6

// surelyFits reports whether n is within l.MaxBytes however its strings
// are escaped (see Limits.MaxBytes).
func (l Limits) surelyFits(n Notification) bool {
	if l.MaxBytes <= 0 {
		return false
	}
	size := len(n.Title) + len(n.Content) + len(n.Payload) + len(n.Sound) + len(n.Category) + len(n.ChannelID)
	punct := 0
	for k, v := range n.Extra {
		size += len(k) + len(v)
		punct += len(`"":"",`)
	}
	return MaxJSONEscape*size+punct+l.Overhead <= l.MaxBytes
}

// FitTo cuts n to limits l, in this order, and says what it cut:
//
//  1. the title and content to the vendor's limits on each (l.Title,
//     l.Content);
//  2. while the push does not fit (l.Fits), the content, down to a
//     preview of 100 grapheme clusters, then the title, down to 30;
//  3. if it still does not fit, the payload is dropped and the content,
//     then the title, are cut from their step-1 versions again as far as
//     needed (first down to the same previews, then to nothing but
//     Ellipsis).
//
// Text is cut only between grapheme clusters (an emoji with skin tone or
// ZWJ sequence, a flag, a letter with its combining marks stays whole) and
// ends with Ellipsis. When anything was cut, Extra gets TruncatedKey.
// n.Extra is never modified: a cut notification has its own copy.
func FitTo(n Notification, l Limits) (Notification, []string) {
	if (l.Title == nil || l.Title(n.Title) == n.Title) && (l.Content == nil || l.Content(n.Content) == n.Content) && l.surelyFits(n) {
		return n, nil
	}
	orig := n
	title, content := n.Title, n.Content
	if l.Title != nil {
		title = l.Title(title)
	}
	if l.Content != nil {
		content = l.Content(content)
	}
	build := func(t, c string, payload bool) Notification {
		m := orig
		m.Title, m.Content = t, c
		if !payload {
			m.Payload = ""
		}
		cuts := cutList(orig, m)
		if len(cuts) > 0 {
			m.Extra = maps.Clone(orig.Extra)
			if m.Extra == nil {
				m.Extra = map[string]string{}
			}
			m.Extra[TruncatedKey] = strings.Join(cuts, ",")
		}
		return m
	}
	fits := func(m Notification) bool { return l.Fits == nil || l.Fits(m) }

	best, ok := build(title, content, true), false
	if fits(best) {
		ok = true
	} else {
		type phase struct {
			floorC, floorT int
			payload        bool
		}
		phases := []phase{{contentFloor, titleFloor, true}, {contentFloor, titleFloor, false}, {0, 0, false}}
		if orig.Payload == "" {
			phases = phases[1:]
		}
		for _, ph := range phases {
			c, cok := cut(content, ph.floorC, func(c string) bool { return fits(build(title, c, ph.payload)) })
			if cok {
				best, ok = build(title, c, ph.payload), true
				break
			}
			cf := atFloor(content, ph.floorC)
			t, tok := cut(title, ph.floorT, func(t string) bool { return fits(build(t, cf, ph.payload)) })
			if tok {
				best, ok = build(t, cf, ph.payload), true
				break
			}
			best = build(atFloor(title, ph.floorT), cf, ph.payload)
		}
	}
	notes := cutNotes(orig, best, l.Vendor)
	if !ok {
		notes = append(notes, fmt.Sprintf("%s: still over the vendor's size limit after cutting", l.Vendor))
	}
	return best, notes
}

// cutList names what m lost of orig, in TruncatedKey's order.
func cutList(orig, m Notification) []string {
	var cuts []string
	if m.Title != orig.Title {
		cuts = append(cuts, "title")
	}
	if m.Content != orig.Content {
		cuts = append(cuts, "content")
	}
	if m.Payload != orig.Payload {
		cuts = append(cuts, "payload")
	}
	return cuts
}

// cutNotes says for the trace what m lost of orig.
func cutNotes(orig, m Notification, v Vendor) []string {
	var parts []string
	for _, f := range []struct{ name, was, is string }{{"title", orig.Title, m.Title}, {"content", orig.Content, m.Content}} {
		if f.was != f.is {
			parts = append(parts, fmt.Sprintf("%s cut from %d to %d characters (%d to %d bytes) at a grapheme boundary",
				f.name, uniseg.GraphemeClusterCount(f.was), uniseg.GraphemeClusterCount(f.is), len(f.was), len(f.is)))
		}
	}
	if m.Payload != orig.Payload {
		parts = append(parts, fmt.Sprintf("payload of %d bytes dropped", len(orig.Payload)))
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("cut to fit %s's limits: %s (%s=%s)", v, strings.Join(parts, ", "), TruncatedKey, m.Extra[TruncatedKey])}
}

// Cut returns s when fits(s); otherwise the longest prefix of s that ends
// between two grapheme clusters and, with its trailing spaces removed and
// Ellipsis appended, fits; Ellipsis alone when no prefix does; and "" when
// not even that fits. fits must accept every shorter candidate of one it
// accepts (any limit on size or count does).
func Cut(s string, fits func(string) bool) string {
	out, ok := cut(s, 0, fits)
	if !ok {
		return ""
	}
	return out
}

// CutBytes is Cut to at most max bytes of UTF-8.
func CutBytes(s string, max int) string {
	return Cut(s, func(t string) bool { return len(t) <= max })
}

// CutRunes is Cut to at most max code points (the "characters" of a
// vendor that counts runes).
func CutRunes(s string, max int) string {
	return Cut(s, func(t string) bool { return utf8.RuneCountInString(t) <= max })
}

// CutUnits is Cut to at most max width units, as units counts them (a
// vendor's own rule, such as vivo's two units for a Chinese character).
func CutUnits(s string, max int, units func(string) int) string {
	return Cut(s, func(t string) bool { return units(t) <= max })
}

// cut is Cut keeping at least floor grapheme clusters of s: ok is false
// when no candidate that long fits (s itself included). With floor 0 the
// candidates go down to Ellipsis alone, then "".
func cut(s string, floor int, fits func(string) bool) (string, bool) {
	if fits(s) {
		return s, true
	}
	ends := graphemeEnds(s)
	candidate := func(k int) string { // the first k clusters, cut
		return strings.TrimRightFunc(s[:ends[k]], unicode.IsSpace) + Ellipsis
	}
	// ends[k] is the end of the first k clusters; k = len(ends)-1 is s.
	lo, hi := floor, len(ends)-2
	if lo > hi || !fits(candidate(lo)) {
		if floor == 0 && fits("") {
			return "", true
		}
		return s, false
	}
	for lo < hi { // fits(candidate(lo)); find the largest k that fits
		mid := (lo + hi + 1) / 2
		if fits(candidate(mid)) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return candidate(lo), true
}

// atFloor is s cut to its first floor grapheme clusters (with Ellipsis),
// or s when it has no more than that.
func atFloor(s string, floor int) string {
	ends := graphemeEnds(s)
	if floor >= len(ends)-1 {
		return s
	}
	return strings.TrimRightFunc(s[:ends[floor]], unicode.IsSpace) + Ellipsis
}

// graphemeEnds returns 0 and the byte offset of the end of each grapheme
// cluster of s.
func graphemeEnds(s string) []int {
	ends := []int{0}
	state, rest, off := -1, s, 0
	for rest != "" {
		var c string
		c, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		off += len(c)
		ends = append(ends, off)
	}
	return ends
}
