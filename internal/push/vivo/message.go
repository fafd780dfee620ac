package vivo

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/heraldim/herald/internal/push"
)

// sendRequest is the body of /message/send (see the package comment).
type sendRequest struct {
	AppID           json.Number       `json:"appId"`
	RegID           string            `json:"regId"`
	NotifyType      int               `json:"notifyType"`
	Title           string            `json:"title"`
	Content         string            `json:"content"`
	TimeToLive      int64             `json:"timeToLive,omitempty"`
	SkipType        int               `json:"skipType"`
	SkipContent     string            `json:"skipContent,omitempty"`
	Classification  int               `json:"classification"`
	Category        string            `json:"category,omitempty"`
	ClientCustomMap map[string]string `json:"clientCustomMap,omitempty"`
	RequestID       string            `json:"requestId"`
	NotifyID        int               `json:"notifyId,omitempty"`
	PushMode        int               `json:"pushMode,omitempty"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("vivo: %s: %w", fmt.Sprintf(format, args...), push.ErrInvalidNotification)
}

func tooLarge(format string, args ...any) error {
	return fmt.Errorf("vivo: %s: %w", fmt.Sprintf(format, args...), push.ErrPayloadTooLarge)
}

// textUnits counts s as vivo counts title and content: vivo states its
// limits as "20 Chinese characters or 40 English ones", so a Chinese
// character is two units and a Latin letter one. How it counts an emoji is
// not documented; its servers count Java chars (UTF-16 code units), so a
// code point outside the Basic Multilingual Plane (most emoji, each half
// of a flag, a skin tone) is taken as two units, and so is any other wide
// character (East Asian Wide or Fullwidth, which covers CJK, kana, Hangul
// and emoji-presentation symbols). Joiners and variation selectors count
// one. The count errs high, never low: a push cut a little short is
// delivered, one vivo counts longer is refused.
func textUnits(s string) int {
	n := 0
	for _, r := range s {
		if isWide(r) {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func isWide(r rune) bool {
	return r > 0xFFFF || uniseg.StringWidth(string(r)) >= 2 ||
		unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		(r >= 0x3000 && r <= 0x303F) || // CJK punctuation
		(r >= 0xFF00 && r <= 0xFFEF) // full-width forms
}

// buildBody checks n and returns the encoded /message/send body.
func (p *Provider) buildBody(n push.Notification, now time.Time) ([]byte, error) {
	switch n.Kind {
	case push.KindAlert, "":
	case push.KindData, push.KindVoIP:
		return nil, invalid("kind %q: vivo carries notifications only", n.Kind)
	default:
		return nil, invalid("unknown kind %q", n.Kind)
	}
	switch {
	case n.Token == "":
		return nil, invalid("no regId")
	case n.ID == "":
		return nil, invalid("no ID for requestId")
	case utf8.RuneCountInString(n.ID) > MaxRequestIDLen:
		return nil, invalid("ID longer than %d characters", MaxRequestIDLen)
	case n.Title == "":
		return nil, invalid("no title")
	case n.Content == "":
		return nil, invalid("no content")
	}
	var ttl int64
	if !n.Expiration.IsZero() {
		left := n.Expiration.Sub(now)
		if left < time.Second {
			return nil, fmt.Errorf("vivo: expired at %s: %w", n.Expiration.UTC().Format(time.RFC3339), push.ErrExpired)
		}
		// vivo refuses a timeToLive under MinTTL (60 s), and a call ring
		// usually has less left than that: it is sent with the minimum
		// rather than not at all. vivo may then show it up to MinTTL after
		// the call's deadline; the call's cancel push, which shares the
		// ring's replace key, replaces it on the device.
		ttl = int64(min(max(left, MinTTL), MaxTTL) / time.Second)
	}
	if u := textUnits(n.Title); u > MaxTitleUnits {
		return nil, tooLarge("title is %d units, over %d", u, MaxTitleUnits)
	}
	if u := textUnits(n.Content); u > MaxContentUnits {
		return nil, tooLarge("content is %d units, over %d", u, MaxContentUnits)
	}
	custom := make(map[string]string, len(n.Extra)+1)
	for k, v := range n.Extra {
		if k == PayloadKey || k == PushIDKey {
			return nil, invalid("extra may not use the key %q", k)
		}
		if k == "" {
			return nil, invalid("extra has an empty key")
		}
		custom[k] = v
	}
	if n.Payload != "" {
		custom[PayloadKey] = n.Payload
	}
	if n.ID != "" {
		custom[PushIDKey] = n.ID
	}
	if len(custom) > MaxCustomPairs {
		return nil, tooLarge("%d custom pairs, over %d", len(custom), MaxCustomPairs)
	}
	chars := 0
	for k, v := range custom {
		chars += utf8.RuneCountInString(k) + utf8.RuneCountInString(v)
	}
	if chars > MaxCustomChars {
		return nil, tooLarge("custom data is %d characters, over %d", chars, MaxCustomChars)
	}
	req := sendRequest{
		AppID:       json.Number(p.cfg.AppID),
		RegID:       n.Token,
		NotifyType:  p.cfg.NotifyType,
		Title:       n.Title,
		Content:     n.Content,
		TimeToLive:  ttl,
		SkipType:    p.cfg.SkipType,
		SkipContent: p.cfg.SkipContent,
		RequestID:   n.ID,
	}
	if n.CollapseID != "" {
		// vivo's notifyId (UNCONFIRMED field, seen in integrators'
		// clients): a shown notification of the same notifyId is
		// replaced. 0 would be none.
		req.NotifyID = max(push.NumericCollapseID(n.CollapseID), 1)
	}
	if !p.cfg.Operation {
		req.Classification = 1
	}
	if p.cfg.Category != "-" {
		req.Category = p.cfg.Category
	}
	if len(custom) > 0 {
		req.ClientCustomMap = custom
	}
	if p.cfg.TestMode {
		req.PushMode = 1
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("vivo: encoding: %w", err)
	}
	return b, nil
}
