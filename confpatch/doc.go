// Package confpatch owns what the supervisor changes in a Doris conf
// directory: fe.conf and be.conf, and the files the operator mounts next to
// them. It knows Doris conf syntax, nothing of processes or SQL.
//
//   - Debug mode (syntax.go, confpatch.go, files.go, temp.go): a [Syntax] reads a
//     conf as its Doris component does — [FESyntax] is java.util.Properties
//     (`key = value`, `key: value`, `key value`, continuation lines,
//     escapes, '#' and '!' comments), [BESyntax] the BE's own reader — and
//     [SyntaxOf] picks it by file name; later lines win. [Syntax.MovePorts]
//     moves port keys (cluster.Component.DebugPorts) by an offset; [Enter]
//     applies that to a conf and [RestoreConf] puts the original back byte
//     for byte, with a marker file (<conf>.doris-entrypoint-debug, [Marker])
//     that survives a crash. An edit someone made in debug mode is kept
//     (restore.go, merge.go): only the lines debug mode moved are put back,
//     or, when the edit touched those, the edited conf is saved next to it
//     ([Restored] says which, and where). The steps of both are numbered at
//     [Enter] and [RestoreConf]. FuzzParse holds the readers to
//     line-by-line transcriptions of the JDK's and the BE's code.
//   - Start-up, as apache/doris docker/runtime/fe/resource/fe_entrypoint.sh
//     and docker/runtime/be/resource/be_entrypoint.sh do it
//     (prepare.go, configmap.go, workload.go): [Prepare] runs the steps
//     below in the scripts' order; [LinkConfigMap] links (be.conf: copies)
//     the operator's ConfigMap files into the conf dir, keeping what was
//     there as .bak; [EnsureValue] appends a key the conf does not set
//     (enable_fqdn_mode); [LinkFiles] links the Kerberos configuration and
//     keytabs; [PrepareWorkloadGroup] prepares the BE's workload-group
//     cgroup (ENABLE_WORKLOAD_GROUP).
//
// Only the lines that set a target key change, and on those only the value;
// every other byte — comments, blank lines, trailing spaces, order, ${VAR},
// backticks, quoted JAVA_OPTS with '=' inside — is kept. A key the file does
// not set gets one line appended. A file is never re-serialised (go-ini's
// writer re-aligns keys and drops backticks, which start_fe.sh would then
// evaluate differently).
//
// Every write is a temp file in the same directory, fsync, rename, fsync of
// the directory (writeAtomic, symlinkAtomic), so a crash at any point leaves
// either the old or the new file, never a mix. A rewrite keeps the file's
// mode, owner and group, and extended attributes (SELinux label, ACLs); what
// a rename cannot keep is the inode: another hard link to the conf keeps the
// old bytes and is no longer the same file. The temp file of a write a
// crash interrupted is removed at the next start ([RemoveStaleTemp], called
// by [RestoreConf]).
package confpatch
