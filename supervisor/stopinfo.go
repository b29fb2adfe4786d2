package supervisor

import "time"

// StopInfo reports a requested stop: when its budget ends (zero before a
// stop is requested), and whether a SIGTERM already reached the main child
// (the kubelet's, without a preStop hook): what runs before the child is
// stopped cannot keep it running then.
func (s *Supervisor) StopInfo() (deadline time.Time, childSignalled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopAt.IsZero() {
		return time.Time{}, false
	}
	return s.stopAt.Add(s.stopTimeout), s.target != nil && s.target.termSent
}
