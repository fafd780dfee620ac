package admin

// webhookRoutes are an app's webhook endpoints.
func (h *Handler) webhookRoutes() []route { return nil }
