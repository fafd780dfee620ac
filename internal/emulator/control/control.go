// Package control holds what the emulators' control APIs share: JSON
// answers and errors, strict request decoding, the long-poll parameters,
// optional durations and the /devices/{id} routes' device lookup. The
// control APIs let another process (herald device, a test in another
// language) play a phone; they are never served on a vendor listener.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// MaxWait bounds a deliveries long-poll's wait parameter.
const MaxWait = time.Minute

// maxBody bounds a control request's body.
const maxBody = 1 << 16

// JSON writes v as a JSON answer with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error writes {"error": message} with status.
func Error(w http.ResponseWriter, status int, format string, args ...any) {
	JSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// Decode decodes the request body into v, refusing unknown fields and
// bodies over 64 KiB.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// PollParams reads a deliveries long-poll's "after" (a count, default 0)
// and "wait" (a Go duration, default 0, capped at MaxWait).
func PollParams(r *http.Request) (after int, wait time.Duration, err error) {
	q := r.URL.Query()
	if s := q.Get("after"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, 0, errors.New("after must be a count (0 or more)")
		}
		after = n
	}
	if s := q.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, 0, errors.New("wait must be a duration such as 5s")
		}
		wait = min(d, MaxWait)
	}
	return after, wait, nil
}

// OptDuration parses an optional Go duration ("" is zero); negative ones
// are refused.
func OptDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		err = errors.New("negative")
	}
	return d, err
}

// Page is the answer of a deliveries long-poll: the records after the
// caller's count and the count to pass as the next call's after.
type Page[T any] struct {
	Deliveries []T `json:"deliveries"`
	Next       int `json:"next"`
}

// LongPoll answers a deliveries long-poll (after and wait from
// PollParams): at once when fetch finds records after the caller's count
// or wait is zero, otherwise when one arrives, wait passes, or done is
// closed (the emulator shuts down). fetch returns the records after a
// count, the count to resume from, and a channel closed at the next
// record. Deliveries is an array, empty rather than null.
func LongPoll[T any](w http.ResponseWriter, r *http.Request, done <-chan struct{}, after int, wait time.Duration,
	fetch func(after int) ([]T, int, <-chan struct{})) {
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	for {
		out, next, changed := fetch(after)
		if len(out) > 0 || wait == 0 {
			if out == nil {
				out = []T{} // a client reads an array, never null
			}
			JSON(w, http.StatusOK, Page[T]{Deliveries: out, Next: next})
			return
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
		case <-done:
		}
		JSON(w, http.StatusOK, Page[T]{Deliveries: []T{}, Next: next})
		return
	}
}

// Devices is an emulator's device set as its control API's
// /devices/{Param} routes see it.
type Devices struct {
	// Param is the path value naming the device ("token", "regId").
	Param string
	// Unknown is the 404 error for a device Known refuses.
	Unknown string
	// Known tells whether the device was registered (even if since
	// uninstalled).
	Known func(id string) bool
}

// ID returns the request's device, or answers 404 Unknown and false.
func (d Devices) ID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue(d.Param)
	if !d.Known(id) {
		Error(w, http.StatusNotFound, "%s", d.Unknown)
		return "", false
	}
	return id, true
}

// Uninstall returns the handler of DELETE /devices/{Param}: 404 for an
// unknown device, else uninstall and 204.
func (d Devices) Uninstall(uninstall func(id string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if id, ok := d.ID(w, r); ok {
			uninstall(id)
			w.WriteHeader(http.StatusNoContent)
		}
	}
}
