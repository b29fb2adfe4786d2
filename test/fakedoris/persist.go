package fakedoris

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// The durable part of a fake cluster, as the master writes it to
// FAKE_DIR/cluster.json after each change (atomically: a temporary file
// renamed over it) and a new or restarted master reads it back: what a
// Doris FE keeps in its BDB-JE journal and image (apache/doris
// fe/fe-core/src/main/java/org/apache/doris/catalog/Env.java: frontends,
// backends, brokers, catalog, users, cluster id). Not the master-only
// configs of ADMIN SET FRONTEND CONFIG (feconfig.go): Doris keeps them in
// the master's memory, so a restart or a master change resets them.
type clusterState struct {
	ClusterID string            `json:"cluster_id"`
	Epoch     int               `json:"epoch"`  // of the master that wrote it (FAKE_DIR/epoch.N)
	Master    string            `json:"master"` // its Host
	Frontends []Frontend        `json:"frontends"`
	Backends  []Backend         `json:"backends"`
	Brokers   []FsBroker        `json:"brokers"`
	Users     map[string]string `json:"users"`
	NextBE    int               `json:"next_backend_id"`
	NextID    int64             `json:"next_id"`
	RR        int               `json:"round_robin"`
	Lost      int               `json:"lost_tablets"`
	DBs       []stateDB         `json:"databases"`
}

type stateDB struct {
	ID     int64        `json:"id"`
	Name   string       `json:"name"`
	Tables []stateTable `json:"tables"`
}

type stateTable struct {
	ID          int64            `json:"id"`
	Name        string           `json:"name"`
	Partitioned bool             `json:"partitioned"`
	Partitions  []statePartition `json:"partitions"`
}

type statePartition struct {
	ID             int64         `json:"id"`
	Name           string        `json:"name"`
	ReplicationNum int           `json:"replication_num"`
	Tablets        []stateTablet `json:"tablets"`
}

type stateTablet struct {
	ID       int64 `json:"id"`
	Replicas []int `json:"replicas"` // BackendIds
}

const stateFile = "cluster.json"

// snapshot is the durable state; epoch and master are the writer's.
func (c *Cluster) snapshot(epoch int, master string) clusterState {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked()
	st := clusterState{ClusterID: ClusterID, Epoch: epoch, Master: master,
		Frontends: append([]Frontend{}, c.frontends...), Backends: append([]Backend{}, c.backends...),
		Brokers: append([]FsBroker{}, c.brokers...), Users: map[string]string{},
		NextBE: c.nextBE, NextID: c.nextID, RR: c.rr, Lost: c.lost}
	for u, p := range c.users {
		st.Users[u] = p
	}
	for _, d := range c.dbs {
		sd := stateDB{ID: d.id, Name: d.name}
		for _, t := range d.tables {
			table := stateTable{ID: t.id, Name: t.name, Partitioned: t.partitioned}
			for _, p := range t.partitions {
				sp := statePartition{ID: p.id, Name: p.name, ReplicationNum: p.want}
				for _, tb := range p.tablets {
					sp.Tablets = append(sp.Tablets, stateTablet{ID: tb.id, Replicas: append([]int{}, tb.replicas...)})
				}
				table.Partitions = append(table.Partitions, sp)
			}
			sd.Tables = append(sd.Tables, table)
		}
		st.DBs = append(st.DBs, sd)
	}
	return st
}

// restore replaces the cluster's state with st, as a master that has
// replayed the journal; the configs are back to their defaults.
func (c *Cluster) restore(st clusterState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frontends = append([]Frontend(nil), st.Frontends...)
	c.backends = append([]Backend(nil), st.Backends...)
	c.brokers = append([]FsBroker(nil), st.Brokers...)
	c.users = map[string]string{"root": ""}
	for u, p := range st.Users {
		c.users[u] = p
	}
	c.nextBE, c.nextID, c.rr, c.lost = max(st.NextBE, 10001), max(st.NextID, 10000), st.RR, st.Lost
	c.dbs = nil
	for _, sd := range st.DBs {
		d := &database{id: sd.ID, name: sd.Name}
		for _, stt := range sd.Tables {
			t := &olapTable{id: stt.ID, name: stt.Name, partitioned: stt.Partitioned}
			for _, sp := range stt.Partitions {
				p := &partition{id: sp.ID, name: sp.Name, want: sp.ReplicationNum}
				for _, stb := range sp.Tablets {
					p.tablets = append(p.tablets, &tablet{id: stb.ID, want: sp.ReplicationNum, replicas: append([]int(nil), stb.Replicas...)})
				}
				t.partitions = append(t.partitions, p)
			}
			d.tables = append(d.tables, t)
		}
		c.dbs = append(c.dbs, d)
	}
	c.config = defaultConfig()
	c.lastTick = c.now()
	c.carry = 0
}

// loadState reads dir's cluster.json; none is (nil, nil).
func loadState(dir string) (*clusterState, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st clusterState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func encodeState(st clusterState) []byte {
	b, _ := json.MarshalIndent(st, "", "  ")
	return append(b, '\n')
}
