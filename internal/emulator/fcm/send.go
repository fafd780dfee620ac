package fcm

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxTopicMessageBytes is FCM's limit for messages to topics.
const maxTopicMessageBytes = 2048

// maxRequestBytes bounds the body read; far above any valid message.
const maxRequestBytes = 1 << 20

// handleSend is POST /v1/projects/{project}/messages:send; the checks and
// their order are the package comment's.
func (e *Emulator) handleSend(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.stats.SendRequests++
	e.mu.Unlock()
	name, err := e.send(r)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	e.mu.Lock()
	e.stats.Accepted++
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	fmt.Fprintf(w, "{\n  \"name\": %q\n}\n", name)
}

func (e *Emulator) send(r *http.Request) (string, *apiError) {
	project := r.PathValue("project")
	if r.Method != http.MethodPost {
		return "", errNotFound("The requested URL " + r.URL.Path + " was not found on this server.")
	}
	at, aerr := e.authorize(r)
	if aerr != nil {
		return "", aerr
	}
	e.mu.Lock()
	exists := e.projects[project]
	e.mu.Unlock()
	if !exists {
		return "", errNotFound("Requested entity was not found.")
	}
	if at.account.projectID != project {
		return "", errPermission(project)
	}
	if f := e.takeFault(""); f != nil {
		if ferr := e.playFault(r, f, "project:"+project); ferr != nil {
			return "", ferr
		}
	}

	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", &apiError{Code: http.StatusRequestEntityTooLarge, Status: "INVALID_ARGUMENT", Message: "Request payload size exceeds the limit."}
		}
		return "", errField("", "The request body could not be read.")
	}
	req, derr := decodeRequest(body)
	if derr != nil {
		return "", derr
	}
	m := &req.message
	limit := e.cfg.MaxMessageBytes
	if m.Token == "" {
		limit = min(limit, maxTopicMessageBytes)
	}
	if size := messageSize(m); size > limit {
		// The limit is documented; which bytes count and the text are
		// UNCONFIRMED.
		return "", errField("message", fmt.Sprintf("Message is too big: %d bytes of data and notification text, the limit is %d.", size, limit))
	}

	var dev *device
	key := m.Token
	if m.Token != "" {
		if f := e.takeFault(m.Token); f != nil {
			if ferr := e.playFault(r, f, "device:"+m.Token); ferr != nil {
				return "", ferr
			}
		}
		e.mu.Lock()
		dev = e.devices[m.Token]
		var snap device
		if dev != nil {
			snap = *dev
		}
		e.mu.Unlock()
		switch {
		case dev == nil:
			return "", errInvalidToken()
		case snap.unregistered:
			return "", errUnregistered()
		case snap.projectID != project:
			return "", errSenderMismatch()
		}
		if a := m.Android; a != nil && a.RestrictedPackageName != "" && a.RestrictedPackageName != snap.packageName {
			// A field violation, so that a client can tell it from a bad
			// token; the text is UNCONFIRMED.
			return "", errField("message.android.restricted_package_name",
				"Invalid package name: the message is restricted to "+a.RestrictedPackageName+", the token's app is another.")
		}
	} else if m.Topic != "" {
		key = "/topics/" + strings.TrimPrefix(m.Topic, "/topics/")
	} else {
		key = "condition:" + m.Condition
	}

	if req.validateOnly {
		return "projects/" + project + "/messages/fake_message_id", nil
	}
	now := e.now()
	name := fmt.Sprintf("projects/%s/messages/0:%d%%%s", project, now.UnixMicro(), randomHex(8))
	e.mu.Lock()
	defer e.mu.Unlock()
	if dev != nil && dev.unregistered { // unregistered while this request was checked
		return "", errUnregistered()
	}
	e.accept(key, dev, Delivery{
		Name: name, ProjectID: project, Token: m.Token,
		Message: req.message, Raw: req.raw, Received: now,
	})
	return name, nil
}
