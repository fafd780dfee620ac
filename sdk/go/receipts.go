package herald

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// PushReceiptKind says what a push receipt reports: the push SDK's
// callback (the seed's ZPNsEventHandler) that fired for the push.
type PushReceiptKind string

// The receipt kinds.
const (
	// PushReceiptArrived: notificationArrived, the system showed the
	// notification. Only APNs and Xiaomi devices (the seed's table) and
	// browsers (Web Push) raise it; the server refuses it for the others with
	// CodeReceiptUnsupported.
	PushReceiptArrived PushReceiptKind = PushReceiptKind(push.ReceiptArrived)
	// PushReceiptClicked: notificationClicked, the user tapped it.
	PushReceiptClicked PushReceiptKind = PushReceiptKind(push.ReceiptClicked)
)

// PushJobIDKey is the custom-data key every push carries its ID under (in
// the extras the push SDK hands the app): the pushJobID of its receipts.
const PushJobIDKey = push.ReceiptExtraKey

// The receipt's error codes.
const (
	CodeInvalidReceipt     = int(protocol.CodeInvalidReceipt)     // kind or pushJobID not valid
	CodeReceiptUnsupported = int(protocol.CodeReceiptUnsupported) // the push's vendor raises no such callback
	CodePushNotFound       = int(protocol.CodePushNotFound)       // no push of the app sent to this user has that ID
)

// ReportPushReceipt tells the server, over the logged-in connection, that
// the push whose PushJobIDKey extra is pushJobID reached the device
// (PushReceiptArrived) or was tapped (PushReceiptClicked), for the app's
// push statistics. The server counts one receipt per push and kind:
// duplicate is true when it had this one already. A *Error with
// CodeInvalidReceipt, CodeReceiptUnsupported or CodePushNotFound (the
// push is not one sent to this user) records nothing. Without a login in
// force it is ErrNotLoggedIn: use ReportPushReceiptWithToken.
func (c *Client) ReportPushReceipt(ctx context.Context, kind PushReceiptKind, pushJobID string) (duplicate bool, err error) {
	var r protocol.PushReceiptReply
	if err := c.call(ctx, protocol.TypePushReceipt, protocol.PushReceiptRequest{Kind: string(kind), PushJobID: pushJobID}, &r); err != nil {
		return false, fmt.Errorf("herald: push receipt: %w", err)
	}
	return r.Duplicate, nil
}

// ReportPushReceiptWithToken is ReportPushReceipt for an app that is not
// logged in (a tap that launched it): over HTTP (POST /v1/push/receipts
// on Config.Server, with Config.HTTPClient), authenticated by user
// userID's login token. The same answers, and the token's errors
// (CodeTokenInvalid, CodeTokenExpired, ...).
func (c *Client) ReportPushReceiptWithToken(ctx context.Context, userID, token string, kind PushReceiptKind, pushJobID string) (duplicate bool, err error) {
	u, err := receiptURL(c.cfg.Server)
	if err != nil {
		return false, err
	}
	body, err := json.Marshal(struct {
		UserID string `json:"userID"`
		protocol.PushReceiptRequest
	}{userID, protocol.PushReceiptRequest{Kind: string(kind), PushJobID: pushJobID}})
	if err != nil {
		return false, fmt.Errorf("herald: push receipt: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("herald: push receipt: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	hc := c.cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("herald: push receipt: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return false, fmt.Errorf("herald: push receipt: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var w protocol.Error
		if json.Unmarshal(b, &w) == nil && w.Code != 0 {
			return false, fmt.Errorf("herald: push receipt: %w", errorFromWire(&w))
		}
		return false, fmt.Errorf("herald: push receipt: %w", &Error{Code: CodeUnavailable, Message: fmt.Sprintf("HTTP %d", resp.StatusCode)})
	}
	var r protocol.PushReceiptReply
	if err := json.Unmarshal(b, &r); err != nil {
		return false, fmt.Errorf("herald: push receipt: reply: %w", err)
	}
	return r.Duplicate, nil
}

// receiptURL is the receipts endpoint of Config.Server (its WebSocket
// URL's scheme turned to HTTP, /v1/ws replaced).
func receiptURL(server string) (string, error) {
	ws, err := wsURL(server)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(ws)
	if err != nil {
		return "", fmt.Errorf("herald: push receipt: %w", err)
	}
	u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
	u.Path = strings.TrimSuffix(u.Path, "/v1/ws") + "/v1/push/receipts"
	return u.String(), nil
}
