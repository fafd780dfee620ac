package admin

// appRoutes are the operator's endpoints on the apps (tenants).
func (h *Handler) appRoutes() []route { return nil }
