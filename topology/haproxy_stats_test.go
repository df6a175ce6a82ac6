package topology

import (
	"strings"
	"testing"
)

// A trimmed "show stat" answer from HAProxy 2.6 (the real one has ~100 columns).
const showStat = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status
kube-apiserver,FRONTEND,,,0,2,2000,17,0,0,0,0,0,,,,,OPEN
kube-apiservers,hachaos-control-plane,0,0,0,1,,6,0,0,,0,,0,0,0,0,UP
kube-apiservers,hachaos-control-plane2,0,0,0,1,,5,0,0,,0,,2,0,3,1,DOWN
kube-apiservers,hachaos-control-plane3,0,0,0,1,,6,0,0,,0,,0,0,0,0,UP 1/2
kube-apiservers,BACKEND,0,0,0,2,200,17,0,0,0,0,,0,0,0,0,UP
`

func TestParseHAProxyStatKeepsOnlyTheBackendsServers(t *testing.T) {
	got, err := ParseHAProxyStat(strings.NewReader(showStat), "kube-apiservers")
	if err != nil {
		t.Fatal(err)
	}
	want := []BackendState{
		{Server: "hachaos-control-plane", Status: "UP", Sessions: 6},
		{Server: "hachaos-control-plane2", Status: "DOWN", Sessions: 5, ConnectErrors: 2, Retries: 3, Redispatches: 1},
		{Server: "hachaos-control-plane3", Status: "UP 1/2", Sessions: 6},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("server %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// "UP 1/2" is still UP for HAProxy: it is failing checks but not yet marked DOWN
	if !got[2].Up() || got[1].Up() {
		t.Errorf("Up() wrong: %v", got)
	}
	// a server without health checks is always in rotation
	if !(BackendState{Status: "no check"}).Up() || (BackendState{Status: "MAINT"}).Up() {
		t.Error(`"no check" must count as UP, MAINT must not`)
	}
}

func TestParseHAProxyStatRejectsOutputWithoutStatus(t *testing.T) {
	if _, err := ParseHAProxyStat(strings.NewReader("# pxname,svname\nx,y\n"), "x"); err == nil {
		t.Fatal("want an error for output without a status column")
	}
}
