package probes

// Waiting is how many /readyz?wait= requests are held (tests synchronise on it).
func (s *Server) Waiting() int { return len(s.waiters) }
