package admin

// messageRoutes are the server API's message endpoints.
func (h *Handler) messageRoutes() []route { return nil }
