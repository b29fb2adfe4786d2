// Package cluster is Doris cluster membership across a node's life: who
// this pod is to the cluster, how it joins, how it is checked, and (next)
// how it leaves and how an upgrade is guarded.
//
//   - component.go: the FE / BE / CN / broker table ([FE], [BE], [Broker]):
//     start script, conf, ports (liveness, HTTP, edit log), pid file,
//     liveness protocol, identity rule, ConfigMap and conf rules. Nothing outside it branches
//     on a component's name.
//   - node.go: [Node], this pod as a member: [Node.Bootstrap] before every
//     start, [Node.Member] for the readiness probe.
//   - identity.go: FQDN or IP (POD_FQDN, POD_IP, /etc/hosts), the
//     StatefulSet ordinal, the FE_ADDRS argument.
//   - credentials.go: the operator's admin account (USER, PASSWD,
//     /etc/basic_auth).
//   - frontend.go: the FE's first start ([Join]): master by the IsMaster
//     column, ALTER SYSTEM ADD FOLLOWER|OBSERVER, --helper; the new-cluster
//     rule for ordinal 0.
//   - backend.go: BE/CN registration ([Registration]); broker.go: broker
//     registration ([BrokerRegistration]: SHOW BROKER, ALTER SYSTEM ADD
//     BROKER), its membership check and its drop on a scale-in.
//   - member.go: the membership checks (SHOW FRONTENDS / SHOW BACKENDS).
//   - health.go: the /api/health bodies of FE and BE.
//   - client.go: the SQL client ([Client]); reach.go: "no FE accepted a
//     connection" told from every answer ([Reached]); statements.go: the
//     ALTER SYSTEM / ADMIN SET statements of leaving and upgrading, and the
//     partitions' replication numbers.
//   - leave.go, leave_fe.go: scale-in from inside the pod (BE decommission,
//     CN and observer drop, the follower rule), its protocol numbered there;
//     scalein.go: the same by hand (`doris-entrypoint scale-in`).
//   - upgrade*.go: the upgrade guard (`doris-entrypoint upgrade`, the flags
//     kept off through FE master changes, versions).
//
// Nothing read from outside reaches SQL unvalidated: host names must be RFC
// 1123 names or IP literals and ports 1..65535 ([ValidateHost], [HostPort]);
// account names are checked and string literals quoted.
package cluster
