package admin

// groupRoutes are the server API's group endpoints.
func (h *Handler) groupRoutes() []route { return nil }
