// Package probes will own the HTTP probe endpoint (/livez, /readyz,
// /startupz, /status, /metrics), the FE/BE health checks and the Doris
// client (SHOW FRONTENDS / SHOW BACKENDS / ALTER SYSTEM over
// go-sql-driver/mysql). It never blocks a probe on a slow FE.
//
// Its implementation comes with the bootstrap and probes issues.
package probes
