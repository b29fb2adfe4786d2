// Package probes is the supervisor's HTTP probe endpoint and the health
// checks behind it ([NodeChecks]: the liveness port, /api/health, and the
// membership that package cluster checks), the exec probe's client
// ([Exec]), and the human view of the state ([PrintStatus]). It sits above
// the mode machine (supervisor/modes), whose states it serves; nothing below
// imports it.
//
// A [Server] answers /livez, /readyz and /startupz (200 or 503 with a
// one-line reason), /status (JSON) and /metrics (Prometheus text format)
// from what it already knows: the mode machine's latest state
// ([Server.SetState]), whether a stop was requested, and the latest results
// of checks that [Server.Run] performs in the background, one round per
// interval (after a child start, quicker retries until a round passes). A
// probe request never waits on Doris, and any number of probe requests
// cause at most one round of checks — one query to an FE — per interval. A
// result older than three intervals counts as a failure.
//
// /readyz?wait=1500ms answers at once when the verdict changed since the
// last such answer, and otherwise holds the request until the verdict
// flips or the wait ends (at most 4 s, 8 requests at once): a kubelet
// probing with it (periodSeconds 1, timeoutSeconds 2) probes again as soon
// as a held probe returns, so it learns of debug mode, a stop or a ready
// child within milliseconds, not up to a period later.
//
// Semantics, for the FE and BE/CN supervisors:
//
//   - live: the check loop is alive and, in normal mode, the child runs; once
//     the liveness port (query_port / heartbeat_service_port) has accepted a
//     connection, it must keep accepting. Debug mode, the bootstrap and a
//     stop in progress are live.
//   - ready: normal mode, the child runs, no stop has been requested (SIGTERM
//     or prestop), and every readiness check passed in a round that began
//     after the child started and is not stale.
//   - startup: the bootstrap finished and the child started, or debug mode.
package probes
