package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/webhook"
)

// Webhooks manages the apps' webhook configurations and shows their
// outboxes (webhook.Service).
type Webhooks interface {
	// Get returns an app's configuration; webhook.ErrNotFound if none.
	Get(ctx context.Context, appID string) (webhook.Config, error)
	// Put applies u and returns the configuration and the secret when it
	// was generated; invalid input is a *protocol.Error.
	Put(ctx context.Context, appID string, u webhook.Update) (webhook.Config, string, error)
	// Delete removes the configuration and its pending events.
	Delete(ctx context.Context, appID string) error
	// Test queues a webhook.test event and returns its event ID.
	Test(ctx context.Context, appID string) (string, error)
	// Recent returns the newest outbox rows and the counts by status.
	Recent(ctx context.Context, appID, status string, limit int) ([]webhook.Row, webhook.Counts, error)
}

// webhookRoutes are an app's webhook endpoints.
func (h *Handler) webhookRoutes() []route {
	const p = "/v1/apps/{appID}/webhooks"
	return []route{
		{"GET", p, h.getWebhook, nil, webhookView{}},
		{"PUT", p, h.putWebhook, []any{webhookRequest{}}, webhookView{}},
		{"DELETE", p, h.deleteWebhook, nil, nil},
		{"POST", p + "/test", h.testWebhook, nil, webhookTestReply{}},
		{"GET", p + "/deliveries", h.webhookDeliveries, nil, webhookDeliveries{}},
	}
}

// webhookRequest sets an app's webhook; absent fields keep their value.
type webhookRequest struct {
	URL                 *string  `json:"url,omitempty"`
	Events              []string `json:"events,omitempty"`
	Secret              string   `json:"secret,omitempty"`
	RotateSecret        bool     `json:"rotateSecret,omitempty"`
	Enabled             *bool    `json:"enabled,omitempty"`
	BeforeSendURL       *string  `json:"beforeSendURL,omitempty"`
	BeforeSendTimeoutMs *int     `json:"beforeSendTimeoutMs,omitempty"`
	FailureMode         *string  `json:"failureMode,omitempty"`
}

// webhookView is an app's webhook; Secret only in the answer that
// generated it.
type webhookView struct {
	URL                 string    `json:"url"`
	Events              []string  `json:"events"`
	Enabled             bool      `json:"enabled"`
	BeforeSendURL       string    `json:"beforeSendURL"`
	BeforeSendTimeoutMs int64     `json:"beforeSendTimeoutMs"`
	FailureMode         string    `json:"failureMode"`
	Secret              string    `json:"secret,omitempty"`
	SecretHint          string    `json:"secretHint"`
	UpdatedAt           time.Time `json:"updatedAt"`
}

type webhookTestReply struct {
	EventID string `json:"eventID"`
}

type webhookDeliveries struct {
	Counts     webhook.Counts    `json:"counts"`
	Deliveries []webhookDelivery `json:"deliveries"`
}

type webhookDelivery struct {
	EventID       string     `json:"eventID"`
	Event         string     `json:"event"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"createdAt"`
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	LastStatus    int        `json:"lastStatus,omitempty"`
	LastError     string     `json:"lastError,omitempty"`
	DoneAt        *time.Time `json:"doneAt,omitempty"`
	MessageID     string     `json:"messageID,omitempty"`
}

func viewWebhook(c webhook.Config, shown string) webhookView {
	v := webhookView{URL: c.URL, Events: c.Events, Enabled: c.Enabled, BeforeSendURL: c.BeforeSendURL,
		BeforeSendTimeoutMs: c.BeforeSendTimeout.Milliseconds(), FailureMode: "closed", Secret: shown, UpdatedAt: c.UpdatedAt}
	if v.Events == nil {
		v.Events = []string{}
	}
	if c.FailOpen {
		v.FailureMode = "open"
	}
	if n := len(c.Secret); n > 4 {
		v.SecretHint = "…" + c.Secret[n-4:]
	}
	return v
}

func (h *Handler) webhooks() (Webhooks, error) {
	if h.d.Webhooks == nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "webhooks are not available on this server")
	}
	return h.d.Webhooks, nil
}

func webhookErr(err error) error {
	if errors.Is(err, webhook.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "the app has no webhook")
	}
	return err
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request, app im.App) error {
	wh, err := h.webhooks()
	if err != nil {
		return err
	}
	c, err := wh.Get(r.Context(), app.ID)
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusOK, viewWebhook(c, ""))
	return nil
}

func (h *Handler) putWebhook(w http.ResponseWriter, r *http.Request, app im.App) error {
	wh, err := h.webhooks()
	if err != nil {
		return err
	}
	var req webhookRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, shown, err := wh.Put(r.Context(), app.ID, webhook.Update{URL: req.URL, Events: req.Events, Secret: req.Secret,
		RotateSecret: req.RotateSecret, Enabled: req.Enabled, BeforeSendURL: req.BeforeSendURL,
		BeforeSendTimeoutMS: req.BeforeSendTimeoutMs, FailureMode: req.FailureMode})
	if err != nil {
		return err
	}
	h.d.Log.Info("webhook configured", "app", app.ID, "url", c.URL, "events", c.Events, "beforeSend", c.BeforeSendURL != "")
	writeJSON(w, http.StatusOK, viewWebhook(c, shown))
	return nil
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, app im.App) error {
	wh, err := h.webhooks()
	if err != nil {
		return err
	}
	if err := wh.Delete(r.Context(), app.ID); err != nil {
		return webhookErr(err)
	}
	h.d.Log.Info("webhook removed", "app", app.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request, app im.App) error {
	wh, err := h.webhooks()
	if err != nil {
		return err
	}
	id, err := wh.Test(r.Context(), app.ID)
	if err != nil {
		return webhookErr(err)
	}
	writeJSON(w, http.StatusOK, webhookTestReply{EventID: id})
	return nil
}

func (h *Handler) webhookDeliveries(w http.ResponseWriter, r *http.Request, app im.App) error {
	wh, err := h.webhooks()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", webhook.StatusPending, webhook.StatusDelivered, webhook.StatusDead:
	default:
		return protocol.Errorf(protocol.CodeInvalidArgument, "status must be pending, delivered or dead")
	}
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return protocol.Errorf(protocol.CodeInvalidArgument, "limit must be 1 to 500")
		}
		limit = n
	}
	rows, counts, err := wh.Recent(r.Context(), app.ID, status, limit)
	if err != nil {
		return fmt.Errorf("admin: webhook deliveries: %w", err)
	}
	out := webhookDeliveries{Counts: counts, Deliveries: make([]webhookDelivery, 0, len(rows))}
	for _, row := range rows {
		d := webhookDelivery{EventID: webhook.RowEventID(row), Event: row.Event, Status: row.Status, Attempts: row.Attempts,
			CreatedAt: row.CreatedAt, LastStatus: row.LastStatus, LastError: row.LastError}
		if row.Status == webhook.StatusPending {
			t := row.NextAt
			d.NextAttemptAt = &t
		}
		if !row.DoneAt.IsZero() {
			t := row.DoneAt
			d.DoneAt = &t
		}
		if row.MessageID != 0 {
			d.MessageID = strconv.FormatInt(row.MessageID, 10)
		}
		out.Deliveries = append(out.Deliveries, d)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
