// Package fcm sends pushes through Firebase Cloud Messaging's HTTP v1 API
// with a Google service account, without the firebase admin SDK (it adds
// about 26 MB to the binary; one JSON POST does the job).
//
// # Authentication
//
// The service account's RSA key signs an RS256 assertion (iss =
// client_email, scope = [Scope], aud = the token URL, exp = iat + 1 h) that
// the OAuth 2.0 JWT-bearer grant (RFC 7523) exchanges at the token URL for
// an access token of about an hour. The token is cached and reused by every
// Send until shortly before it expires (one minute, or half its lifetime if
// that is shorter), so a steady stream of pushes costs one token exchange an
// hour; concurrent Sends that find no valid token wait for a single
// exchange. An AuthFailed answer to a send (401 UNAUTHENTICATED, 403
// PERMISSION_DENIED) drops the cached token: the dispatcher's one retry of
// that result fetches a fresh one.
//
// # What a notification becomes
//
// One POST {base}/v1/projects/{project_id}/messages:send with
// {"message":{"token":...}} and:
//
//   - KindAlert: "notification" {title: Title, body: Content} and
//     "android" {priority, ttl, collapse_key: CollapseID,
//     restricted_package_name: Topic, notification {channel_id: ChannelID
//     or Config.DefaultChannelID, tag: CollapseID (the phone replaces a
//     shown notification of the same tag), sound: Sound or "default",
//     notification_count: Badge}}. Payload,
//     Extra and ID travel in "data" so the app gets them when the user taps.
//   - KindData: a data-only message (no "notification" block, so the app's
//     handler always receives it): "data" holds Title and Content (keys
//     [DataKeyTitle], [DataKeyContent]) besides Payload, Extra and ID.
//   - KindVoIP: FCM has no PushKit; an incoming call on Android is a data
//     message of priority HIGH, whatever Priority says (a NORMAL one may wait
//     for a maintenance window while the call rings out).
//
// All "data" values are strings, as FCM requires: Payload under
// [DataKeyPayload], ID under [DataKeyPushID] (FCM has no idempotency key, so
// the app drops a duplicate left by a retried send with it), Extra under its
// own keys. Extra may not use Herald's keys nor the keys FCM reserves
// ("from", "message_type", "collapse_key", anything starting with "google"
// or "gcm"): such a notification is refused with
// push.ErrInvalidNotification rather than rejected or silently rewritten by
// FCM.
//
// Priority: PriorityHigh → "HIGH", PriorityNormal → "NORMAL"; when empty,
// HIGH for alerts (an IM message is shown now) and NORMAL for data.
// Expiration becomes android.ttl "<seconds>s", whole seconds rounded down
// (never later than asked), capped at 28 days (2,419,200 s, FCM's maximum);
// zero Expiration sends no ttl (FCM's default storage, four weeks). A
// notification whose Expiration has passed is refused with push.ErrExpired
// and not sent.
//
// Size: FCM documents 4096 bytes for a message "including both the keys
// and the values" without saying which bytes are counted. Send counts the
// whole request body exactly as it is sent (compact JSON, token and options
// included), which is at least as much as any reading of the rule, and
// refuses a body over [MaxBodyBytes] with push.ErrPayloadTooLarge before
// sending: a push the planner can shorten beats one FCM rejects.
//
// # How FCM's answer is translated
//
// The FcmError detail (type.googleapis.com/google.firebase.fcm.v1.FcmError)
// decides when there is one, as firebase-admin-go does; the HTTP status
// decides otherwise (some fixtures pair UNREGISTERED with another status).
//
//	answer                                       outcome
//	200 {"name": "projects/p/messages/id"}       Delivered, VendorID = name
//	errorCode UNREGISTERED (404 NOT_FOUND)       DropDevice
//	errorCode SENDER_ID_MISMATCH (403)           DropDevice (token of another project)
//	400 INVALID_ARGUMENT about the token (1)     DropDevice
//	400 INVALID_ARGUMENT, anything else          Rejected
//	errorCode THIRD_PARTY_AUTH_ERROR or          Rejected (2)
//	  APNS_AUTH_ERROR (401)
//	401 UNAUTHENTICATED, no errorCode            AuthFailed, cached token dropped
//	403 PERMISSION_DENIED, no errorCode          AuthFailed, cached token dropped (3)
//	errorCode QUOTA_EXCEEDED (429)               Retry after Retry-After, else 60 s (4)
//	errorCode INTERNAL, UNAVAILABLE (500, 503)   Retry after Retry-After if present
//	other 5xx                                    Retry after Retry-After if present
//	404 without UNREGISTERED, other 4xx          Rejected
//	token endpoint 400/401/403 (invalid_grant)   AuthFailed, Reason "oauth2 <error>: <description>"
//	token endpoint 429, 5xx                      Retry after Retry-After if present
//	no answer (network, timeout, cancel)         error, no Result
//
// (1) FCM answers an invalid registration token and an invalid request
// field with the same 400 INVALID_ARGUMENT. Its error-code page shows the
// difference: a bad field comes with a google.rpc.BadRequest detail naming
// the field, a bad token with an FcmError detail and the message "The
// registration token is not a valid FCM registration token". So the device
// is dropped only when a BadRequest field violation names "message.token",
// or when no violation names another field and the message speaks of the
// registration token. "Request contains an invalid argument." (which FCM
// also sends for a wrong APNs configuration, with an ApnsError detail) is a
// Rejected: dropping devices for a configuration error would lose them all.
//
// (2) THIRD_PARTY_AUTH_ERROR means the APNs certificate or key, or the web
// push credential, uploaded to the Firebase project is invalid: our OAuth
// token is fine and a refresh cannot help, so it is a configuration alert,
// not AuthFailed.
//
// (3) The credential authenticates but may not send for the project (no
// cloudmessaging.messages.create permission, or the FCM API is disabled):
// the credential is failing for this use, which is what AuthFailed reports
// after its one retry.
//
// (4) FCM's error-code page asks for exponential backoff with an initial
// delay of at least one minute for the message-rate quota; the device- and
// topic-rate quotas only ask for backoff. Without a Retry-After the Result
// asks for one minute, which covers all three.
package fcm

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2/jwt"

	"github.com/heraldim/herald/internal/push"
)

// Endpoints, scope and limits of FCM HTTP v1.
const (
	// DefaultBaseURL is FCM's production host.
	DefaultBaseURL = "https://fcm.googleapis.com"
	// DefaultTokenURL is Google's OAuth 2.0 token endpoint, used when the
	// service account has no token_uri.
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	// Scope is the narrowest OAuth scope that allows messages:send (the
	// cloud-platform scope would grant the whole project).
	Scope = "https://www.googleapis.com/auth/firebase.messaging"
	// MaxTTL is FCM's longest storage time for android.ttl: 28 days.
	MaxTTL = 2419200 * time.Second
	// MaxBodyBytes bounds the request body Send will post (see the package
	// comment for what is counted).
	MaxBodyBytes = 4096
	// DefaultTimeout bounds one HTTP exchange with FCM or the token
	// endpoint. 15 s: FCM answers in well under a second, and a stalled
	// connection must not hold a dispatcher worker for long.
	DefaultTimeout = 15 * time.Second
)

// Keys of the "data" map that Herald fills; Extra may not use them.
const (
	DataKeyPayload = "payload"            // Notification.Payload
	DataKeyPushID  = push.ReceiptExtraKey // Notification.ID, for the app to report receipts and drop duplicates
	DataKeyTitle   = "title"              // Notification.Title, data and VoIP messages only
	DataKeyContent = "content"            // Notification.Content, data and VoIP messages only
)

const (
	// quotaRetryAfter is the wait after QUOTA_EXCEEDED without Retry-After:
	// FCM asks for at least one minute of initial delay.
	quotaRetryAfter = time.Minute
	// tokenRefreshMargin: a cached access token is replaced this long before
	// it expires, so that no request carries a token that expires on the
	// way or on a server whose clock is a little ahead.
	tokenRefreshMargin = time.Minute
	// maxResponseBytes bounds what is read of an answer; FCM's are small.
	maxResponseBytes = 64 << 10
	// checkTopic is the topic of Check's validate-only message: a topic
	// target needs no device, and validate_only delivers nothing.
	checkTopic = "herald-credential-check"
)

// Config configures a Provider.
type Config struct {
	// ServiceAccountJSON is the service account key file as downloaded from
	// the Firebase console (type "service_account", project_id,
	// private_key_id, private_key, client_email, token_uri). Required.
	ServiceAccountJSON []byte
	// BaseURL replaces FCM's host, e.g. with an emulator's. Zero:
	// DefaultBaseURL.
	BaseURL string
	// TokenURL replaces the token endpoint. Zero: the service account's
	// token_uri, or DefaultTokenURL when it has none. The assertion's aud is
	// this URL.
	TokenURL string
	// HTTPClient carries both the token exchange and the sends. Zero: a
	// client of the Provider's own (HTTP/2, TLS 1.2+, RootCAs), whose idle
	// connections Close releases.
	HTTPClient *http.Client
	// RootCAs is the trust for the Provider's own client. Zero: the system
	// roots. Ignored with HTTPClient.
	RootCAs *x509.CertPool
	// Timeout bounds one HTTP exchange. Zero: DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for expirations and the token cache. Zero: time.Now.
	Now func() time.Time
	// DefaultChannelID is the Android notification channel of an alert
	// whose Notification has no ChannelID (no resource set one): the
	// app's IM channel, so that a bare credential's pushes do not land in
	// FCM's fallback "Miscellaneous" channel. Zero: none sent (the app's
	// manifest default decides).
	DefaultChannelID string
	// Tokens shares the access token with the other nodes on the store
	// (keyed by the service account and its key): a node reuses a stored
	// token that has time left instead of fetching its own. Zero: the
	// Provider keeps its token to itself.
	Tokens push.TokenStore
	// Log receives the Tokens store's errors. Zero: discarded.
	Log *slog.Logger
}

// Provider sends pushes to FCM for one Firebase project with one service
// account. It is safe for concurrent use.
type Provider struct {
	projectID string
	sendURL   string
	jwt       *jwt.Config
	client    *http.Client
	ownClient bool
	timeout   time.Duration
	now       func() time.Time
	channel   string // Config.DefaultChannelID

	// tokens caches the access token: one exchange for Sends that find
	// none valid, shared with the other nodes (Config.Tokens).
	tokens *push.TokenCache
}

var (
	_ push.Provider = (*Provider)(nil)
	_ push.Checker  = (*Provider)(nil)
)

// New checks cfg and returns a Provider. A service account that cannot be
// used (JSON that does not parse, wrong type, no private_key, client_email
// or project_id, a key that is not an RSA key) is an error wrapping
// push.ErrCredential whose text never contains the key. New makes no
// network call and starts no goroutine; Check proves the credential.
func New(cfg Config) (*Provider, error) {
	sa, err := parseServiceAccount(cfg.ServiceAccountJSON)
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	if err := push.CheckURL(base); err != nil {
		return nil, fmt.Errorf("fcm: base URL: %w", err)
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = sa.TokenURI
	}
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	if err := push.CheckURL(tokenURL); err != nil {
		return nil, fmt.Errorf("fcm: token URL: %w", err)
	}
	p := &Provider{
		projectID: sa.ProjectID,
		sendURL:   base + "/v1/projects/" + url.PathEscape(sa.ProjectID) + "/messages:send",
		jwt: &jwt.Config{
			Email:        sa.ClientEmail,
			PrivateKey:   []byte(sa.PrivateKey),
			PrivateKeyID: sa.PrivateKeyID,
			Scopes:       []string{Scope},
			TokenURL:     tokenURL,
		},
		client:  cfg.HTTPClient,
		timeout: cfg.Timeout,
		now:     cfg.Now,
		channel: cfg.DefaultChannelID,
	}
	if p.client == nil {
		p.client = push.HTTPClient(cfg.RootCAs)
		p.ownClient = true
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.tokens = push.NewTokenCache(push.SharedToken{Store: cfg.Tokens, Log: cfg.Log,
		Key: push.TokenKey{Vendor: push.VendorFCM, Account: sa.ClientEmail, Secret: push.SecretHash(sa.PrivateKey)}},
		tokenRefreshMargin, p.now)
	return p, nil
}

// ProjectID returns the Firebase project the Provider sends for.
func (p *Provider) ProjectID() string { return p.projectID }

// Close releases the idle connections of the Provider's own HTTP client
// (not those of a Config.HTTPClient). The Provider stays usable.
func (p *Provider) Close() {
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

// Send makes one attempt to deliver n; see the package comment for the
// message it sends and how the answer is translated. It returns an error
// without sending for a notification that cannot be sent (wrapping
// push.ErrInvalidNotification, push.ErrExpired or
// push.ErrPayloadTooLarge), and an error without a Result when no answer
// came (network, timeout, ctx).
func (p *Provider) Send(ctx context.Context, n push.Notification) (push.Result, error) {
	if n.ChannelID == "" {
		n.ChannelID = p.channel
	}
	// Build once before the token exchange, so that a notification that
	// cannot be sent costs no round trip.
	body, err := buildBody(n, p.now())
	if err != nil {
		return push.Result{}, err
	}
	tok, err := p.accessToken(ctx, false)
	if err != nil {
		var oe *oauthError
		if errors.As(err, &oe) {
			return oe.result(), nil
		}
		return push.Result{}, err
	}
	if !n.Expiration.IsZero() {
		// The exchange took time: the ttl must count from now.
		if body, err = buildBody(n, p.now()); err != nil {
			return push.Result{}, err
		}
	}
	status, header, raw, err := p.post(ctx, tok, body)
	if err != nil {
		return push.Result{}, fmt.Errorf("fcm: send: %w", err)
	}
	res := translate(status, header, raw, p.now())
	if res.Outcome == push.AuthFailed {
		// The dispatcher retries an AuthFailed once "after refreshing the
		// credential": make that retry fetch a new token.
		p.forget(tok)
	}
	return res, nil
}

// Check proves the credential with real round trips and sends nothing to
// any device: a fresh access token from the token endpoint (the cache is
// bypassed and then refilled), then a validate_only send of an empty
// message to a topic, which FCM checks like a real send (project, the
// account's permission to send, the FCM API enabled) without delivering.
// A refusal of the credential (token endpoint 4xx, send 401 or 403) wraps
// push.ErrCredential; other failures are plain errors.
func (p *Provider) Check(ctx context.Context) error {
	tok, err := p.accessToken(ctx, true)
	if err != nil {
		var oe *oauthError
		if errors.As(err, &oe) && oe.result().Outcome == push.AuthFailed {
			return fmt.Errorf("fcm: check: %w: %w", push.ErrCredential, err)
		}
		return fmt.Errorf("fcm: check: %w", err)
	}
	body, err := encodeJSON(sendRequest{ValidateOnly: true, Message: wireMessage{Topic: checkTopic}})
	if err != nil {
		return fmt.Errorf("fcm: check: %w", err)
	}
	status, header, raw, err := p.post(ctx, tok, body)
	if err != nil {
		return fmt.Errorf("fcm: check: validate-only send: %w", err)
	}
	if status == http.StatusOK {
		return nil
	}
	res := translate(status, header, raw, p.now())
	if res.Outcome == push.AuthFailed {
		p.forget(tok)
		return fmt.Errorf("fcm: check: validate-only send refused (%d %s): %w", status, res.Reason, push.ErrCredential)
	}
	return fmt.Errorf("fcm: check: validate-only send answered %d %s", status, res.Reason)
}

// post sends body to messages:send with the access token and returns the
// answer, read up to maxResponseBytes.
func (p *Provider) post(ctx context.Context, token string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.sendURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, raw, nil
}
