// Package supervisor owns the duties of PID 1 in a Doris container: it starts
// the main child in its own process group, forwards signals to that group,
// reaps every child and every orphan, and stops everything gracefully within a
// deadline when SIGTERM arrives.
//
// Differences from tini, dumb-init and catatonit, which it replaces:
//
//   - On SIGTERM it waits for all descendants, not only the direct child, until
//     the stop timeout; only then does it SIGKILL what remains. start_fe.sh is
//     shell → java, and the JVM must be allowed to finish its cleanup.
//   - When it is not PID 1 it becomes a child subreaper by itself.
//   - A SIGTERM that arrives before the child has started is kept: the child
//     is then never started and the supervisor exits with 143.
//   - Exec failures give the shell's codes: 127 not found, 126 not executable.
//
// The supervisor reaps with wait4(-1), so the process that embeds it must not
// start children any other way (no os/exec): their exit status would be
// stolen. Everything goes through [Supervisor.Start].
//
// The package knows nothing of SQL or Doris conf syntax. Its subpackages:
// sigfwd (forwarding from the signal handler), earlystart (the child
// started at the entry point), control (the prestop socket), podinfo (the
// pod's annotations, from the downward-API file and the API) and modes (the
// mode machine: normal and debug mode, the port holder).
package supervisor
