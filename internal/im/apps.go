package im

// DropApp forgets what the service holds for an app whose rows are about to
// be deleted: its cached copy and its acknowledged positions not yet
// written. Written after the deletion, they would fail their whole batch
// (the app is gone), other apps' positions included. The app's sessions
// are closed before: no new positions come.
func (s *Service) DropApp(appID string) {
	s.ForgetApp(appID)
	s.rate.drop(appID)
	s.rules.forgetApp(appID)
	s.ackMu.Lock()
	for k := range s.acks {
		if k.app == appID {
			delete(s.acks, k)
		}
	}
	for k := range s.userAcks {
		if k.app == appID {
			delete(s.userAcks, k)
		}
	}
	s.ackMu.Unlock()
}
