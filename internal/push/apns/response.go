package apns

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/heraldim/herald/internal/push"
)

// APNs reason strings (the "reason" of an error answer's JSON body), as
// listed in Apple's "Handling notification responses from APNs".
const (
	ReasonBadCollapseID               = "BadCollapseId"
	ReasonBadDeviceToken              = "BadDeviceToken"
	ReasonBadExpirationDate           = "BadExpirationDate"
	ReasonBadMessageID                = "BadMessageId"
	ReasonBadPriority                 = "BadPriority"
	ReasonBadTopic                    = "BadTopic"
	ReasonDeviceTokenNotForTopic      = "DeviceTokenNotForTopic"
	ReasonDuplicateHeaders            = "DuplicateHeaders"
	ReasonIdleTimeout                 = "IdleTimeout"
	ReasonInvalidPushType             = "InvalidPushType"
	ReasonMissingDeviceToken          = "MissingDeviceToken"
	ReasonMissingTopic                = "MissingTopic"
	ReasonPayloadEmpty                = "PayloadEmpty"
	ReasonTopicDisallowed             = "TopicDisallowed"
	ReasonBadCertificate              = "BadCertificate"
	ReasonBadCertificateEnvironment   = "BadCertificateEnvironment"
	ReasonExpiredProviderToken        = "ExpiredProviderToken"
	ReasonForbidden                   = "Forbidden"
	ReasonInvalidProviderToken        = "InvalidProviderToken"
	ReasonMissingProviderToken        = "MissingProviderToken"
	ReasonBadPath                     = "BadPath"
	ReasonMethodNotAllowed            = "MethodNotAllowed"
	ReasonExpiredToken                = "ExpiredToken"
	ReasonUnregistered                = "Unregistered"
	ReasonPayloadTooLarge             = "PayloadTooLarge"
	ReasonTooManyProviderTokenUpdates = "TooManyProviderTokenUpdates"
	ReasonTooManyRequests             = "TooManyRequests"
	ReasonInternalServerError         = "InternalServerError"
	ReasonServiceUnavailable          = "ServiceUnavailable"
	ReasonShutdown                    = "Shutdown"
)

// classify translates an APNs answer into a push.Result. Retry-After, when
// present (Apple does not document that APNs sends it), sets RetryAfter on
// every Retry.
//
//	status  reason                                   outcome     why
//	200     -                                        Delivered   VendorID = apns-id
//	400     BadDeviceToken                           DropDevice  malformed token or a token of the other
//	                                                             environment; the device's token/environment
//	                                                             pair is wrong for good (Apple: don't retry)
//	400     DeviceTokenNotForTopic                   Rejected    the token is fine but belongs to another
//	                                                             topic (e.g. a PushKit token sent as an alert):
//	                                                             a mapping bug to alert on, not a dead device
//	                                                             (Apple DTS: fix the context, don't delete)
//	400     IdleTimeout                              Retry       the connection idled out; the push is fine
//	400     BadCollapseId, BadExpirationDate,        Rejected    the request is wrong; sending it again as is
//	        BadMessageId, BadPriority, BadTopic,                 gets the same answer
//	        DuplicateHeaders, InvalidPushType,
//	        MissingDeviceToken, MissingTopic,
//	        PayloadEmpty, TopicDisallowed, other
//	403     ExpiredProviderToken                     Deferred    the JWT is too old by Apple's clock: the
//	                                                             provider makes a new one at once (see
//	                                                             tokenSource) and Until is zero: send again
//	                                                             now, no attempt counted. AuthFailed when that
//	                                                             new token is refused too (clock > 1 h behind)
//	403     InvalidProviderToken,                    AuthFailed  the credential is refused (revoked key, wrong
//	        MissingProviderToken, BadCertificate,                key ID or team, certificate for the other
//	        BadCertificateEnvironment                            environment): retry once, then alert
//	403     Forbidden, other                         Rejected    "the specified action is not allowed": not a
//	                                                             credential to refresh; Apple: don't retry
//	404     BadPath                                  Rejected    our bug
//	405     MethodNotAllowed                         Rejected    our bug
//	410     Unregistered, ExpiredToken, any          DropDevice  Apple DTS: 410 is final for the token
//	413     PayloadTooLarge                          Rejected    checked before sending, so a limit changed
//	429     TooManyRequests                          Retry       too many pushes to this device: later
//	429     TooManyProviderTokenUpdates              Deferred    APNs saw this team's token change within
//	                                                             20 minutes (another server with the same
//	                                                             key?); the token is kept, not refreshed, and
//	                                                             the environment waits until Until: now + 20
//	                                                             min, or the token's iat + 20 min when sooner
//	                                                             (Apple: at most one change per 20 minutes)
//	429     other                                    Retry
//	500     InternalServerError                      Retry       Apple: retry 5xx with backoff
//	503     ServiceUnavailable, Shutdown             Retry       the server is going away; the HTTP/2 client
//	                                                             opens a new connection after its GOAWAY
//	5xx     other                                    Retry
//	other   any                                      Rejected    not an APNs answer we know how to retry
func classify(status int, reason string, h http.Header, now time.Time) push.Result {
	res := push.Result{Status: status, Reason: reason}
	retry := func() push.Result {
		res.Outcome = push.Retry
		res.RetryAfter = parseRetryAfter(h.Get("Retry-After"), now)
		return res
	}
	switch {
	case status == http.StatusOK:
		res.Outcome = push.Delivered
		res.VendorID = h.Get("apns-id")
		return res
	case status == http.StatusBadRequest:
		switch reason {
		case ReasonBadDeviceToken:
			res.Outcome = push.DropDevice
		case ReasonIdleTimeout:
			return retry()
		default:
			res.Outcome = push.Rejected
		}
		return res
	case status == http.StatusForbidden:
		switch reason {
		case ReasonExpiredProviderToken:
			res.Outcome = push.Deferred // Until zero: at once, with a new token
		case ReasonInvalidProviderToken, ReasonMissingProviderToken,
			ReasonBadCertificate, ReasonBadCertificateEnvironment:
			res.Outcome = push.AuthFailed
		default:
			res.Outcome = push.Rejected
		}
		return res
	case status == http.StatusGone:
		res.Outcome = push.DropDevice
		return res
	case status == http.StatusTooManyRequests && reason == ReasonTooManyProviderTokenUpdates:
		res.Outcome = push.Deferred
		res.Until = now.Add(MinTokenRefresh)
		return res
	case status == http.StatusTooManyRequests, status >= 500 && status <= 599:
		return retry()
	default:
		res.Outcome = push.Rejected
		return res
	}
}

// parseReason reads the reason of an APNs error body ({"reason": "...",
// "timestamp": ms}); "" for an empty or foreign body. The 410 timestamp
// (the last time APNs confirmed the token invalid, in milliseconds) is not
// kept: a 410 drops the device whatever its value.
func parseReason(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	var e struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Reason
}
