package admin

// userRoutes are the server API's user endpoints.
func (h *Handler) userRoutes() []route { return nil }
