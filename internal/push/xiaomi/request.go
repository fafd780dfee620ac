package xiaomi

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldim/herald/internal/push"
)

// extraChannelID is the form key of the Android channel and message class.
const extraChannelID = "extra.channel_id"

// extraPushID is the form key of Notification.ID (the push job's ID,
// push.ReceiptExtraKey), for the app to report receipts and drop
// duplicates: Xiaomi's msgID is its own.
const extraPushID = "extra." + push.ReceiptExtraKey

// buildForm turns n into the form of /v3/message/regid (see the package
// comment), or refuses it.
func (p *Provider) buildForm(n push.Notification, now time.Time) (url.Values, error) {
	if n.Token == "" || strings.Contains(n.Token, ",") {
		return nil, fmt.Errorf("xiaomi: %w: the token must be one regId", push.ErrInvalidNotification)
	}
	pkg := n.Topic
	if pkg == "" {
		pkg = p.cfg.PackageName
	}
	if strings.Contains(pkg, ",") {
		return nil, fmt.Errorf("xiaomi: %w: the topic must be one package name", push.ErrInvalidNotification)
	}
	f := url.Values{
		"registration_id":         {n.Token},
		"restricted_package_name": {pkg},
	}
	switch n.Kind {
	case push.KindData:
		f["pass_through"] = []string{"1"}
		if n.Title != "" {
			f["title"] = []string{cut(n.Title, p.cfg.MaxTitleRunes)}
		}
		if n.Content != "" {
			f["description"] = []string{cut(n.Content, p.cfg.MaxDescriptionRunes)}
		}
	case push.KindAlert, push.KindVoIP, "":
		if strings.TrimSpace(n.Title) == "" || strings.TrimSpace(n.Content) == "" {
			return nil, fmt.Errorf("xiaomi: %w: a notification needs a title and a content", push.ErrInvalidNotification)
		}
		f["pass_through"] = []string{"0"}
		f["title"] = []string{cut(n.Title, p.cfg.MaxTitleRunes)}
		f["description"] = []string{cut(n.Content, p.cfg.MaxDescriptionRunes)}
		f["notify_type"] = []string{"-1"}
	default:
		return nil, fmt.Errorf("xiaomi: %w: kind %q", push.ErrInvalidNotification, n.Kind)
	}
	if len(n.Payload) > p.cfg.MaxPayloadBytes {
		return nil, fmt.Errorf("xiaomi: %w: payload of %d bytes, limit %d", push.ErrPayloadTooLarge, len(n.Payload), p.cfg.MaxPayloadBytes)
	}
	if n.Payload != "" {
		f["payload"] = []string{n.Payload}
	}
	if !n.Expiration.IsZero() {
		ttl := n.Expiration.Sub(now)
		if ttl < time.Millisecond {
			return nil, fmt.Errorf("xiaomi: %w", push.ErrExpired)
		}
		f["time_to_live"] = []string{strconv.FormatInt(min(ttl, MaxTTL).Milliseconds(), 10)}
	}
	switch {
	case n.CollapseID != "":
		f["notify_id"] = []string{strconv.FormatInt(notifyID(n.CollapseID), 10)}
	case n.ID != "":
		f["notify_id"] = []string{strconv.FormatInt(notifyID(n.ID), 10)}
	}
	channel := n.ChannelID
	if channel == "" {
		channel = p.cfg.ChannelID
	}
	if channel != "" {
		f[extraChannelID] = []string{channel}
	}
	for k, v := range n.Extra {
		if k == "" || k == "channel_id" || k == push.ReceiptExtraKey {
			return nil, fmt.Errorf("xiaomi: %w: extra key %q", push.ErrInvalidNotification, k)
		}
		f["extra."+k] = []string{v}
	}
	if n.ID != "" {
		f[extraPushID] = []string{n.ID}
	}
	return f, nil
}

// notifyID is s when it is a non-negative int32, else a stable 31-bit
// hash of it: the same collapse key always gives the same notify_id.
func notifyID(s string) int64 {
	if v, err := strconv.ParseInt(s, 10, 32); err == nil && v >= 0 {
		return v
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return int64(h.Sum32() & 0x7fffffff)
}

// cut returns s when it has fewer than limit runes, else s cut between
// grapheme clusters to limit-1 runes, ending with push.Ellipsis. Fit cuts
// first and notes it; this keeps a notification Fit never saw sendable.
func cut(s string, limit int) string {
	if utf8.RuneCountInString(s) < limit {
		return s
	}
	return push.CutRunes(s, max(limit-1, 0))
}
