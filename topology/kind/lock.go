package kind

import "github.com/hachaos/hachaos/topology/cluster"

// Lock takes the topology's run lock (cluster.LockStateDir).
func (p *Provider) Lock() (unlock func(), err error) {
	return cluster.LockStateDir(p.stateDir, p.spec.Name)
}
