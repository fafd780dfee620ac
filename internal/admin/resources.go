package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldim/herald/internal/im"
	"github.com/heraldim/herald/internal/protocol"
	"github.com/heraldim/herald/internal/push"
)

// maxResourceBody bounds a resource's JSON: its options are a few short
// strings per vendor.
const maxResourceBody = 16 << 10

// resourceView is a stored resource as the API shows it: its spec as
// stored (embedded, so a vendor added to the spec is shown too), beside
// its ID and times.
type resourceView struct {
	ID string `json:"id"`
	push.ResourceSpec
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// resourceList is the answer of GET .../resources.
type resourceList struct {
	Resources []resourceView `json:"resources"`
}

// sendReply is the answer of POST .../send.
type sendReply struct {
	Jobs int `json:"jobs"`
	// JobIDs are decimal strings, as in the trace.
	JobIDs []string `json:"jobIDs"`
}

func viewResource(r push.Resource) resourceView {
	return resourceView{ID: r.ID, ResourceSpec: r.Spec, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// resourceID returns the path's resource ID, or a not-found error for one
// no resource could have.
func resourceID(r *http.Request) (string, error) {
	id := r.PathValue("resourceID")
	if !protocol.ValidResourceID(id) {
		return "", protocol.Errorf(protocol.CodeNotFound, "unknown resource")
	}
	return id, nil
}

// putResource creates or replaces a resource. Its options are checked
// here, so that a push never meets a misconfigured one; a refused resource
// changes nothing.
func (h *Handler) putResource(w http.ResponseWriter, r *http.Request, app im.App) error {
	id := r.PathValue("resourceID")
	if !protocol.ValidResourceID(id) {
		return protocol.Errorf(protocol.CodeInvalidResource, "resource ID must be 1 to %d characters of A-Z a-z 0-9 _-.@+=", protocol.MaxPushResourceIDLen)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxResourceBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return protocol.Errorf(protocol.CodeInvalidResource, "body over %d bytes", maxResourceBody)
		}
		return fmt.Errorf("admin: put resource: %w", err)
	}
	spec, err := push.ParseResourceSpec(body)
	if err != nil {
		return protocol.Errorf(protocol.CodeInvalidResource, "%s", err.Error())
	}
	// Under the credentials' lock: a Huawei credential replaced meanwhile
	// cannot lose its badge class behind this check.
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if spec.Badge {
		lacks, err := h.huaweiLacksBadgeClass(r.Context(), app.ID)
		if err != nil {
			return err
		}
		if lacks {
			return protocol.Errorf(protocol.CodeInvalidResource,
				"badge: the app's Huawei credential has no badgeClass (its launcher Activity, full class name), without which Huawei refuses a badge; set it on the credential first")
		}
	}
	if err := h.d.Resources.PutResource(r.Context(), push.Resource{AppID: app.ID, ID: id, Spec: spec}); err != nil {
		return fmt.Errorf("admin: put resource: %w", err)
	}
	h.d.Dispatch.InvalidateResource(app.ID, id)
	stored, err := h.d.Resources.Resource(r.Context(), app.ID, id)
	if err != nil {
		return fmt.Errorf("admin: put resource: %w", err)
	}
	writeJSON(w, http.StatusOK, viewResource(stored))
	return nil
}

func (h *Handler) getResource(w http.ResponseWriter, r *http.Request, app im.App) error {
	id, err := resourceID(r)
	if err != nil {
		return err
	}
	res, err := h.d.Resources.Resource(r.Context(), app.ID, id)
	if errors.Is(err, push.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "unknown resource")
	}
	if err != nil {
		return fmt.Errorf("admin: resource: %w", err)
	}
	writeJSON(w, http.StatusOK, viewResource(res))
	return nil
}

func (h *Handler) listResources(w http.ResponseWriter, r *http.Request, app im.App) error {
	list, err := h.d.Resources.Resources(r.Context(), app.ID)
	if err != nil {
		return fmt.Errorf("admin: resources: %w", err)
	}
	out := make([]resourceView, len(list))
	for i, res := range list {
		out[i] = viewResource(res)
	}
	writeJSON(w, http.StatusOK, resourceList{Resources: out})
	return nil
}

// deleteResource removes a resource. Pushes that still name it are sent
// with the default options, and their trace says so.
func (h *Handler) deleteResource(w http.ResponseWriter, r *http.Request, app im.App) error {
	id, err := resourceID(r)
	if err != nil {
		return err
	}
	err = h.d.Resources.DeleteResource(r.Context(), app.ID, id)
	if errors.Is(err, push.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "unknown resource")
	}
	if err != nil {
		return fmt.Errorf("admin: delete resource: %w", err)
	}
	h.d.Dispatch.InvalidateResource(app.ID, id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Send limits.
const (
	// maxSendTargets bounds the users or PushIDs of one send: the jobs are
	// written in one transaction, which holds the store's one writer.
	maxSendTargets = 1000
	// maxSendTTL is FCM's longest storage time (28 days); APNs keeps a
	// push for less, and no vendor keeps one longer.
	maxSendTTL = 28 * 24 * time.Hour
)

type sendRequest struct {
	UserIDs     []string `json:"userIDs"`
	PushIDs     []string `json:"pushIDs"`
	Title       string   `json:"title"`
	Content     string   `json:"content"`
	Payload     string   `json:"payload"`
	ResourcesID string   `json:"resourcesID"`
	TTLSeconds  int64    `json:"ttlSeconds"`
}

// send queues a push without a message, for app backends that use push on
// its own: a durable job for every enabled device bound to each user, or
// for each given device. The dispatcher sends them as it sends messages'
// pushes, and the trace shows them (message ID 0).
func (h *Handler) send(w http.ResponseWriter, r *http.Request, app im.App) error {
	var req sendRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	var t push.Targets
	switch {
	case len(req.UserIDs) > 0 && len(req.PushIDs) > 0:
		return protocol.Errorf(protocol.CodeInvalidArgument, "give userIDs or pushIDs, not both")
	case len(req.UserIDs) == 0 && len(req.PushIDs) == 0:
		return protocol.Errorf(protocol.CodeInvalidArgument, "give userIDs or pushIDs")
	case len(req.UserIDs)+len(req.PushIDs) > maxSendTargets:
		return protocol.Errorf(protocol.CodeInvalidArgument, "at most %d userIDs or pushIDs", maxSendTargets)
	}
	for _, u := range req.UserIDs {
		if !protocol.ValidUserID(u) {
			return protocol.Errorf(protocol.CodeInvalidUserID, "userIDs holds an invalid user ID")
		}
	}
	for _, p := range req.PushIDs {
		if p == "" || len(p) > maxPushIDLen {
			return protocol.Errorf(protocol.CodeInvalidArgument, "each pushID must be 1 to %d characters", maxPushIDLen)
		}
	}
	t.UserIDs, t.PushIDs = dedupe(req.UserIDs), dedupe(req.PushIDs)
	pc := protocol.PushConfig{Title: req.Title, Content: req.Content, Payload: req.Payload, ResourcesID: req.ResourcesID}
	if perr := protocol.ValidatePushConfig(&pc); perr != nil {
		return perr
	}
	if pc.Title == "" && pc.Content == "" && pc.Payload == "" {
		return protocol.Errorf(protocol.CodeInvalidPushConfig, "give a title, a content or a payload")
	}
	if req.TTLSeconds < 0 || time.Duration(req.TTLSeconds)*time.Second > maxSendTTL {
		return protocol.Errorf(protocol.CodeInvalidArgument, "ttlSeconds must be 0 (the vendor's default) to %d", int64(maxSendTTL/time.Second))
	}
	var expires time.Time
	if req.TTLSeconds > 0 {
		expires = time.Now().Add(time.Duration(req.TTLSeconds) * time.Second)
	}
	ids, err := h.d.Resources.PlanIntent(r.Context(), push.Intent{AppID: app.ID, Targets: t,
		Source:  push.Source{Kind: push.SourceServer},
		Content: push.Content{Title: pc.Title, Content: pc.Content, Payload: pc.Payload, ResourcesID: pc.ResourcesID}, ExpiresAt: expires})
	if err != nil {
		return fmt.Errorf("admin: send: %w", err)
	}
	if len(ids) > 0 {
		h.d.Dispatch.Wake()
	}
	if ids == nil {
		ids = []int64{}
	}
	reply := sendReply{Jobs: len(ids), JobIDs: make([]string, len(ids))}
	for i, id := range ids {
		reply.JobIDs[i] = strconv.FormatInt(id, 10)
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// dedupe returns s without repeats, in first-seen order.
func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
