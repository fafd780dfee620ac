package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/heraldim/herald/internal/protocol"
)

// Before-send timeout bounds.
const (
	DefaultBeforeSendTimeout = 2 * time.Second
	MaxBeforeSendTimeout     = 10 * time.Second
	maxURL                   = 2048
)

// Update is a configuration as the admin API sets it. Nil fields keep the
// stored value (their default for a new configuration).
type Update struct {
	URL    *string
	Events []string // nil: keep
	// Secret sets the signing secret; empty with RotateSecret, or for a
	// new configuration, generates one.
	Secret       string
	RotateSecret bool
	Enabled      *bool
	// BeforeSendURL, "" to remove the hook.
	BeforeSendURL *string
	// BeforeSendTimeout in milliseconds; 0 is the default.
	BeforeSendTimeoutMS *int
	// FailureMode is "open" or "closed".
	FailureMode *string
}

// Get returns an app's configuration; ErrNotFound if it has none.
func (s *Service) Get(_ context.Context, appID string) (Config, error) {
	c, ok := s.config(appID)
	if !ok {
		return Config{}, ErrNotFound
	}
	return c, nil
}

// Put validates u and applies it to the app's configuration. It returns
// the new configuration and the secret when it was generated (shown once).
// Invalid input is a *protocol.Error and changes nothing.
func (s *Service) Put(ctx context.Context, appID string, u Update) (Config, string, error) {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	old, exists := s.config(appID)
	c := old
	if !exists {
		c = Config{AppID: appID, Enabled: true, BeforeSendTimeout: DefaultBeforeSendTimeout, FailOpen: true}
	}
	if u.URL != nil {
		c.URL = *u.URL
	}
	if c.URL != "" {
		if err := checkURL(c.URL); err != nil {
			return Config{}, "", protocol.Errorf(protocol.CodeInvalidWebhookURL, "url: %v", err)
		}
	}
	if u.BeforeSendURL != nil {
		c.BeforeSendURL = *u.BeforeSendURL
	}
	if c.BeforeSendURL != "" {
		if err := checkURL(c.BeforeSendURL); err != nil {
			return Config{}, "", protocol.Errorf(protocol.CodeInvalidWebhookURL, "beforeSendURL: %v", err)
		}
	}
	if u.Events != nil {
		evs := []string{}
		for _, e := range u.Events {
			if !slices.Contains(events, e) {
				return Config{}, "", protocol.Errorf(protocol.CodeInvalidWebhookEvents, "unknown event %q: events are %v", e, events)
			}
			if !slices.Contains(evs, e) {
				evs = append(evs, e)
			}
		}
		c.Events = evs
	}
	if u.Enabled != nil {
		c.Enabled = *u.Enabled
	}
	if ms := u.BeforeSendTimeoutMS; ms != nil {
		d := time.Duration(*ms) * time.Millisecond
		switch {
		case *ms == 0:
			d = DefaultBeforeSendTimeout
		case *ms < 0 || d > MaxBeforeSendTimeout:
			return Config{}, "", protocol.Errorf(protocol.CodeInvalidWebhookOption, "beforeSendTimeoutMs must be 1 to %d (0: default %d)",
				MaxBeforeSendTimeout.Milliseconds(), DefaultBeforeSendTimeout.Milliseconds())
		}
		c.BeforeSendTimeout = d
	}
	if m := u.FailureMode; m != nil {
		switch *m {
		case "open":
			c.FailOpen = true
		case "closed":
			c.FailOpen = false
		default:
			return Config{}, "", protocol.Errorf(protocol.CodeInvalidWebhookOption, `failureMode must be "open" or "closed"`)
		}
	}
	if c.URL == "" && c.BeforeSendURL == "" {
		return Config{}, "", protocol.Errorf(protocol.CodeInvalidWebhookURL, "give url, beforeSendURL or both")
	}
	shown := ""
	switch {
	case u.Secret != "":
		if len(u.Secret) < 16 || len(u.Secret) > 256 {
			return Config{}, "", protocol.Errorf(protocol.CodeInvalidWebhookOption, "secret must be 16 to 256 characters")
		}
		c.Secret = u.Secret
	case u.RotateSecret || !exists || c.Secret == "":
		sec, err := NewSecret()
		if err != nil {
			return Config{}, "", err
		}
		c.Secret, shown = sec, sec
	}
	c.UpdatedAt = s.opt.Now()
	if err := s.store.PutWebhook(ctx, c); err != nil {
		return Config{}, "", fmt.Errorf("webhook: put: %w", err)
	}
	s.cfgMu.Lock()
	s.cfgs[appID] = c
	s.cfgMu.Unlock()
	s.Wake() // events held while it was disabled
	return c, shown, nil
}

func checkURL(raw string) error {
	if len(raw) > maxURL {
		return fmt.Errorf("over %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("scheme must be http or https")
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("needs a host, and no user info or fragment")
	}
	return nil
}

// Delete removes an app's configuration and its pending events;
// ErrNotFound if it has none.
func (s *Service) Delete(ctx context.Context, appID string) error {
	s.putMu.Lock()
	defer s.putMu.Unlock()
	if _, ok := s.config(appID); !ok {
		return ErrNotFound
	}
	if err := s.store.DeleteWebhook(ctx, appID); err != nil {
		return fmt.Errorf("webhook: delete: %w", err)
	}
	s.cfgMu.Lock()
	delete(s.cfgs, appID)
	s.cfgMu.Unlock()
	return nil
}

// Test writes a webhook.test event to the outbox at once (whatever the
// subscription) and returns its event ID.
func (s *Service) Test(ctx context.Context, appID string) (string, error) {
	c, ok := s.config(appID)
	if !ok {
		return "", ErrNotFound
	}
	if !c.Enabled || c.URL == "" {
		return "", protocol.Errorf(protocol.CodeWebhookNotEnabled, "")
	}
	ids, err := s.store.EnqueueEvents(ctx, []NewEvent{{AppID: appID, Event: EventTest,
		Payload: []byte(`{"message":"test event from Herald"}`), CreatedAt: s.opt.Now()}})
	if err != nil {
		return "", fmt.Errorf("webhook: test: %w", err)
	}
	s.Wake()
	return EventID(ids[0]), nil
}

// Recent returns an app's newest outbox rows (status "" for all) and its
// counts by status.
func (s *Service) Recent(ctx context.Context, appID, status string, limit int) ([]Row, Counts, error) {
	rows, n, err := s.store.RecentEvents(ctx, appID, status, limit)
	if err != nil {
		return nil, Counts{}, fmt.Errorf("webhook: recent: %w", err)
	}
	return rows, n, nil
}
