package apns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/heraldim/herald/internal/push"
)

// checkToken is the device token Check addresses: well-formed (64 hex
// digits) but never issued, so APNs answers 400 BadDeviceToken once it has
// accepted the credential. Apple validates the credential before it looks
// the device up ("If validation succeeds, APNs uses the provided device
// token to identify the user's device").
var checkToken = strings.Repeat("0", 64)

// Check proves the credential with a real round trip to each environment
// in Config.CheckEnvironments, without pushing anything: it POSTs a silent
// background notification (aps {"content-available":1}, priority 5,
// apns-expiration 0) to checkToken, which no device has. Then:
//
//	400 BadDeviceToken         the credential (and CheckTopic) was accepted: nil
//	400 MissingTopic           accepted, when no CheckTopic is configured: nil
//	400 TopicDisallowed,       the credential works but may not push to
//	    BadTopic               CheckTopic: error wrapping push.ErrCredential
//	403 any                    the credential is refused: error wrapping
//	                           push.ErrCredential, naming APNs' reason
//	429, 5xx, network          APNs could not say: a plain error (try later)
//	200                        (a device answered to the all-zero token; the
//	                           push was silent and empty): nil
//
// The provider token it uses is the one Send uses, so Check never causes a
// token update of its own.
func (p *Provider) Check(ctx context.Context) error {
	var errs []error
	for _, env := range p.checkEnvs {
		if err := p.checkEnv(ctx, env); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", env, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("apns: check: %w", errors.Join(errs...))
	}
	return nil
}

func (p *Provider) checkEnv(ctx context.Context, env push.Environment) error {
	h := http.Header{}
	h.Set("apns-push-type", pushTypeBackground)
	h.Set("apns-priority", "5")
	h.Set("apns-expiration", "0")
	h.Set("Content-Type", "application/json")
	if p.checkTopic != "" {
		h.Set("apns-topic", p.checkTopic)
	}
	r := &request{token: checkToken, header: h, body: []byte(`{"aps":{"content-available":1}}`)}
	res, reason, err := p.do(ctx, env, r)
	if err != nil {
		return err
	}
	switch {
	case res.Status == http.StatusOK:
		return nil
	case res.Status == http.StatusBadRequest && reason == ReasonBadDeviceToken:
		return nil
	case res.Status == http.StatusBadRequest && reason == ReasonMissingTopic && p.checkTopic == "":
		return nil
	case res.Status == http.StatusBadRequest && (reason == ReasonTopicDisallowed || reason == ReasonBadTopic):
		return fmt.Errorf("%w: APNs accepted the credential but refused topic %q (%s)", push.ErrCredential, p.checkTopic, reason)
	case res.Status == http.StatusForbidden:
		return fmt.Errorf("%w: APNs refused the credential (%d %s)", push.ErrCredential, res.Status, reason)
	default:
		return fmt.Errorf("APNs answered %d %s; the credential is unproven", res.Status, reason)
	}
}
