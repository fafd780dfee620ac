package fcm

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Types of the error details FCM sends.
const (
	typeFcmError     = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	typeBadRequest   = "type.googleapis.com/google.rpc.BadRequest"
	typeQuotaFailure = "type.googleapis.com/google.rpc.QuotaFailure"
)

// apiError is Google's error envelope's "error" object, plus what goes in
// headers.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`

	retryAfter time.Duration
	wwwAuth    string
}

type fcmErrorDetail struct {
	Type      string `json:"@type"`
	ErrorCode string `json:"errorCode"`
}

type fieldViolation struct {
	Field       string `json:"field,omitempty"`
	Description string `json:"description"`
}

type badRequestDetail struct {
	Type            string           `json:"@type"`
	FieldViolations []fieldViolation `json:"fieldViolations"`
}

type quotaViolation struct {
	Subject     string `json:"subject"`
	Description string `json:"description"`
}

type quotaFailureDetail struct {
	Type       string           `json:"@type"`
	Violations []quotaViolation `json:"violations"`
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	if e.retryAfter > 0 {
		// Whole seconds, rounded up: never invite a retry too early.
		h.Set("Retry-After", strconv.FormatInt(int64((e.retryAfter+time.Second-1)/time.Second), 10))
	}
	if e.wwwAuth != "" {
		h.Set("WWW-Authenticate", e.wwwAuth)
	}
	w.WriteHeader(e.Code)
	_ = json.NewEncoder(w).Encode(map[string]*apiError{"error": e})
}

// errField is a 400 INVALID_ARGUMENT about a field of the request, the
// shape of the example on FCM's error-code page.
func errField(field, description string) *apiError {
	return &apiError{
		Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT", Message: description,
		Details: []any{badRequestDetail{Type: typeBadRequest, FieldViolations: []fieldViolation{{Field: field, Description: description}}}},
	}
}

// errInvalidToken is FCM's answer to a token it never issued (the second
// example on the error-code page).
func errInvalidToken() *apiError {
	return &apiError{
		Code: http.StatusBadRequest, Status: "INVALID_ARGUMENT",
		Message: "The registration token is not a valid FCM registration token",
		Details: []any{fcmErrorDetail{Type: typeFcmError, ErrorCode: "INVALID_ARGUMENT"}},
	}
}

// errUnregistered is FCM's answer to a token whose app instance is gone.
func errUnregistered() *apiError {
	return &apiError{
		Code: http.StatusNotFound, Status: "NOT_FOUND", Message: "Requested entity was not found.",
		Details: []any{fcmErrorDetail{Type: typeFcmError, ErrorCode: "UNREGISTERED"}},
	}
}

// errSenderMismatch: the token belongs to another project. The message
// text is UNCONFIRMED.
func errSenderMismatch() *apiError {
	return &apiError{
		Code: http.StatusForbidden, Status: "PERMISSION_DENIED", Message: "SenderId mismatch",
		Details: []any{fcmErrorDetail{Type: typeFcmError, ErrorCode: "SENDER_ID_MISMATCH"}},
	}
}

// errNotFound has no FcmError detail: it is the API's, not FCM's (an
// unknown project or path; the exact body is UNCONFIRMED).
func errNotFound(message string) *apiError {
	return &apiError{Code: http.StatusNotFound, Status: "NOT_FOUND", Message: message}
}

// errPermission: the access token's account may not send for the project
// (Google's IAM wording; UNCONFIRMED for FCM).
func errPermission(project string) *apiError {
	return &apiError{
		Code: http.StatusForbidden, Status: "PERMISSION_DENIED",
		Message: "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/" + project + "' (or it may not exist).",
	}
}

func errUnauthenticated(message string) *apiError {
	return &apiError{
		Code: http.StatusUnauthorized, Status: "UNAUTHENTICATED", Message: message,
		wwwAuth: `Bearer realm="https://accounts.google.com/", error="invalid_token"`,
	}
}

// errQuota is 429 QUOTA_EXCEEDED with the QuotaFailure detail FCM adds.
func errQuota(subject string, retryAfter time.Duration) *apiError {
	return &apiError{
		Code: http.StatusTooManyRequests, Status: "RESOURCE_EXHAUSTED",
		Message: "Quota exceeded for sending messages to " + subject + ".",
		Details: []any{
			fcmErrorDetail{Type: typeFcmError, ErrorCode: "QUOTA_EXCEEDED"},
			quotaFailureDetail{Type: typeQuotaFailure, Violations: []quotaViolation{{Subject: subject, Description: "Message rate exceeded (emulated)."}}},
		},
		retryAfter: retryAfter,
	}
}

func errServer(status int, retryAfter time.Duration) *apiError {
	e := &apiError{Code: status, retryAfter: retryAfter}
	switch status {
	case http.StatusServiceUnavailable:
		e.Status, e.Message = "UNAVAILABLE", "The service is currently unavailable."
		e.Details = []any{fcmErrorDetail{Type: typeFcmError, ErrorCode: "UNAVAILABLE"}}
	default:
		e.Status, e.Message = "INTERNAL", "Internal error encountered."
		e.Details = []any{fcmErrorDetail{Type: typeFcmError, ErrorCode: "INTERNAL"}}
	}
	return e
}
