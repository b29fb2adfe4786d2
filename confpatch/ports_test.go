package confpatch

// The ports debug mode moves (cluster.FE and cluster.BE own them; confpatch
// itself knows no key): liveness first, then HTTP.
var (
	FEPorts = []Port{{"query_port", 9030}, {"http_port", 8030}}
	BEPorts = []Port{{"heartbeat_service_port", 9050}, {"webserver_port", 8040}}
)
