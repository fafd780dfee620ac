package call

// ForgetApp drops the open calls of an app being deleted from memory:
// their rows go with the app, so their deadlines must not fire (each would
// fail to store its timeout and retry every second) and the push gate must
// not ring for them.
func (s *Service) ForgetApp(appID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.calls {
		if k.app != appID {
			continue
		}
		for _, u := range c.Users {
			s.unindex(appID, k.call, u.UserID)
		}
		s.gateSet(appID, k.call, ended(c.Users))
		delete(s.calls, k)
		s.metrics.open.Dec()
	}
}
