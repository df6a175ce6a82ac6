#!/usr/bin/env bash
# Builds every image a hachaos topology needs without a container registry, from the Go
# module proxy and Debian packages only:
#   hachaos/node:<version>          kind node image (Debian rootfs + kind's base files +
#                                   kubeadm/kubelet/kubectl + pre-loaded control-plane images)
#   registry.k8s.io/...             the control-plane images, under the names kubeadm asks for
#                                   (also used for external etcd members)
#   hachaos/haproxy:2.6             HAProxy from Debian: the load balancer under test
#   docker.io/envoyproxy/envoy:...  only when absent: the same HAProxy under the tag kind
#                                   starts its own LB from (see images/lb/envoy)
#   hachaos/cni:v1                  the CNI daemon (cmd/hachaos-cni)
#   registry.k8s.io/e2e-test-images/agnhost:<its VERSION>
#                                   the e2e test server (netexec): the data-plane workload,
#                                   pre-loaded in the node image
# Every output carries the hash of its inputs' content (never their paths) (label io.hachaos.inputs, or a file name in
# the cache), so a second run with unchanged inputs rebuilds nothing.
#
# Usage: scripts/build-images.sh [KUBERNETES_VERSION]   (default v1.37.2)
#        scripts/build-images.sh --agent-only           the node agent's image alone (no
#                                                       Kubernetes compile): what the
#                                                       agent-image workflow publishes
# Env:   HACHAOS_CACHE  cache folder (default ~/.cache/hachaos)
#        DEBIAN_MIRROR  apt mirror for debootstrap (default: the one this host uses)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"

AGENT_ONLY=false
if [ "${1:-}" = --agent-only ]; then AGENT_ONLY=true && shift; fi
K8S_VERSION=${1:-${K8S_VERSION:-v1.37.2}}
[[ $K8S_VERSION =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || die "Kubernetes version must look like v1.37.2, got '$K8S_VERSION'"
K8S_MAJOR=${BASH_REMATCH[1]} K8S_MINOR=${BASH_REMATCH[2]}
KIND_VERSION=$(cd "$repo" && go list -m -f '{{.Version}}' sigs.k8s.io/kind)
CACHE=${HACHAOS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hachaos}
SUITE=bookworm
CNI_IMAGE=hachaos/cni:v1
HAPROXY_IMAGE=hachaos/haproxy:2.6
NODE_IMAGE=hachaos/node:$K8S_VERSION
BIN=$CACHE/bin/$K8S_VERSION
mkdir -p "$BIN" "$CACHE/rootfs" "$CACHE/src"
export CGO_ENABLED=0

# docker_build TAG DIR|- builds with the classic builder (buildx may be absent); its
# deprecation notice is shown only when the build fails
docker_build() {
	local out
	out=$(DOCKER_BUILDKIT=0 docker build -q -t "$@" 2>&1) || { echo "$out" >&2; return 1; }
}

hash_of() { cat "$@" | sha256sum | cut -c1-16; }
hash_str() { echo "$*" | sha256sum | cut -c1-16; }
image_inputs() { docker image inspect -f '{{index .Config.Labels "io.hachaos.inputs"}}' "$1" 2>/dev/null || true; }
image_current() { [ "$(image_inputs "$1")" = "$2" ]; }

debian_mirror() {
	[ -n "${DEBIAN_MIRROR:-}" ] && { echo "$DEBIAN_MIRROR"; return; }
	local found
	found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '/^(URIs:|deb) +https?:\/\/[^ ]+\/debian\/?( |$)/ {print $2; exit}') || true
	echo "${found:-http://deb.debian.org/debian}"
}

# ---- Go binaries --------------------------------------------------------------------

# k8s_module writes a module that builds Kubernetes $K8S_VERSION: it requires
# k8s.io/kubernetes and points every staging module (listed at v0.0.0 in its go.mod)
# at the published v0.MINOR.PATCH, which is what the Kubernetes repo does with replace
# directives to local folders.
k8s_module() {
	local dir=$CACHE/src/k8s-$K8S_VERSION
	[ -f "$dir/go.sum" ] && { echo "$dir"; return; }
	mkdir -p "$dir"
	(
		cd "$dir"
		printf 'module hachaos.local/k8s\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n' "$K8S_VERSION" >go.mod
		local modfile
		modfile=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .GoMod)
		{
			echo 'replace ('
			grep -oE '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$modfile" | awk -v v="v0.${K8S_VERSION#v1.}" '{print "\t"$1" => "$1" "v}'
			echo ')'
		} >>go.mod
		printf '//go:build tools\n\npackage k8s\n\nimport (\n' >tools.go
		for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubeadm kubelet kubectl; do
			printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c" >>tools.go
		done
		echo ')' >>tools.go
		go mod tidy >&2
	)
	echo "$dir"
}

version_ldflags() {
	local v=$1 major=$2 minor=$3 pkg flags=""
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.gitTreeState=clean"
		flags+=" -X $pkg.buildDate=2000-01-01T00:00:00Z"
	done
	echo "-s -w$flags"
}

build_kubernetes() {
	local cmds=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubeadm kubelet kubectl)
	local missing=() c
	for c in "${cmds[@]}"; do [ -x "$BIN/$c" ] || missing+=("$c"); done
	[ ${#missing[@]} -eq 0 ] && { log "Kubernetes $K8S_VERSION binaries cached in $BIN"; return; }
	local dir
	dir=$(k8s_module)
	log "compiling ${missing[*]} (cold: ~15 min on 2 cores; warm Go cache: ~1 min)"
	(cd "$dir" && go build -trimpath -ldflags "$(version_ldflags "$K8S_VERSION" "$K8S_MAJOR" "$K8S_MINOR")" \
		-o "$BIN/" "${missing[@]/#/k8s.io/kubernetes/cmd/}")
}

# component versions come from kubeadm itself, so the images match what it will ask for
image_for() { "$BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null | grep "/$1:"; }

build_etcd() {
	local tag=${ETCD_IMAGE##*:} ver
	ver=v${tag%-*}
	[ -x "$BIN/etcd" ] && return
	local dir=$CACHE/src/etcd-$ver
	mkdir -p "$dir"
	printf 'module hachaos.local/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ver" >"$dir/go.mod"
	cat >"$dir/main.go" <<'GO'
// Command etcd is etcd's own main, built from the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
	(cd "$dir" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" .)
}

build_coredns() {
	local ver=${COREDNS_IMAGE##*:}
	[ -x "$BIN/coredns" ] && return
	local dir=$CACHE/src/coredns-$ver p
	mkdir -p "$dir"
	printf 'module hachaos.local/coredns\n\ngo 1.26\n\nrequire github.com/coredns/coredns %s\n' "$ver" >"$dir/go.mod"
	{
		echo '// Command coredns is CoreDNS with only the plugins kubeadm'"'"'s Corefile uses.'
		echo 'package main'
		echo 'import ('
		echo '	"github.com/coredns/coredns/coremain"'
		for p in errors health ready kubernetes metrics forward cache loop reload loadbalance log; do
			echo "	_ \"github.com/coredns/coredns/plugin/$p\""
		done
		echo ')'
		echo 'func main() { coremain.Run() }'
	} >"$dir/main.go"
	(cd "$dir" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$BIN/coredns" .)
}

# build_agnhost compiles agnhost, the Kubernetes e2e test server (netexec serves the
# data-plane workload), from test/images/agnhost of the same k8s.io/kubernetes module:
# its own module beside the Kubernetes one, with the same replace directives.
build_agnhost() {
	[ -x "$BIN/agnhost" ] && return
	local k8s dir
	k8s=$(k8s_module)
	dir=$CACHE/src/agnhost-$K8S_VERSION
	mkdir -p "$dir"
	sed 's#^module .*#module hachaos.local/agnhost#' "$k8s/go.mod" >"$dir/go.mod"
	cp "$k8s/go.sum" "$dir/"
	printf '//go:build tools\n\npackage agnhost\n\nimport _ "k8s.io/kubernetes/test/images/agnhost"\n' >"$dir/tools.go"
	log "compiling agnhost $(agnhost_version) (cold: ~5 min on 2 cores)"
	(cd "$dir" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$BIN/agnhost" k8s.io/kubernetes/test/images/agnhost)
}

# agnhost_version is the one test/images/agnhost/VERSION gives for this Kubernetes
agnhost_version() {
	cat "$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)/test/images/agnhost/VERSION"
}

build_small_tools() {
	[ -x "$BIN/crictl" ] || GOBIN=$BIN go install -trimpath -ldflags "-s -w" "sigs.k8s.io/cri-tools/cmd/crictl@v1.$K8S_MINOR.0"
	if [ ! -x "$BIN/pause" ]; then
		local src
		src=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)/build/pause/linux/pause.c
		gcc -Os -static -Wall -DVERSION="${PAUSE_IMAGE##*:}-hachaos" -o "$BIN/pause" "$src"
	fi
	# -buildvcs=false: the commit must not change the binary, or every commit rebuilds the node image
	(cd "$repo" && go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$CACHE/bin/hachaos-cni" ./cmd/hachaos-cni)
}

# ---- Debian root filesystems -------------------------------------------------------

NODE_PACKAGES=systemd,dbus,containerd,runc,containernetworking-plugins,iptables,nftables,iproute2,socat,ethtool,conntrack,ebtables,kmod,util-linux,mount,procps,ca-certificates,jq,libseccomp2,pigz,e2fsprogs,bash,libcap2-bin
USERLAND_PACKAGES=haproxy,iptables,nftables,conntrack,ipset,kmod,socat,ca-certificates,procps,iproute2

# rootfs NAME PACKAGES prints the path of a cached tarball of a debootstrap minbase rootfs
rootfs() {
	local name=$1 pkgs=$2 key tar dir
	key=$(hash_str "$SUITE $pkgs")
	tar=$CACHE/rootfs/$name-$key.tar
	if [ ! -f "$tar" ]; then
		command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq debootstrap >/dev/null
		dir=$(mktemp -d "$CACHE/rootfs/$name.XXXX")
		log "debootstrap $name rootfs ($SUITE, $(debian_mirror)); ~1-2 min"
		as_root debootstrap --variant=minbase --include="$pkgs" "$SUITE" "$dir" "$(debian_mirror)" >"$dir.log" 2>&1 ||
			{ tail -20 "$dir.log" >&2; die "debootstrap $name failed (log: $dir.log)"; }
		as_root rm -rf "$dir/var/cache/apt/archives"/*.deb "$dir/var/lib/apt/lists"/*
		as_root tar -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
		as_root rm -rf "$dir" "$dir.log"
	fi
	echo "$tar"
}

# ---- images -------------------------------------------------------------------------

# binary_image IMAGE BINARY: an image holding one static binary at /usr/local/bin
binary_image() {
	local image=$1 bin=$2 key dir
	key=$(hash_of "$bin")
	image_current "$image" "$key" && return
	dir=$(mktemp -d)
	mkdir -p "$dir/usr/local/bin" "$dir/tmp" "$dir/etc"
	cp "$bin" "$dir/usr/local/bin/"
	echo 'nobody:x:65534:65534:nobody:/:/sbin/nologin' >"$dir/etc/passwd"
	tar -C "$dir" -c . | docker import \
		-c "ENV PATH=/usr/local/bin:/usr/bin:/bin" -c "ENTRYPOINT [\"/usr/local/bin/$(basename "$bin")\"]" \
		-c "LABEL io.hachaos.inputs=$key" - "$image" >/dev/null
	rm -rf "$dir"
	log "built $image"
}

userland_image() {
	local tar key
	tar=$(rootfs userland "$USERLAND_PACKAGES")
	key=$(hash_str "$(basename "$tar")")
	USERLAND_IMAGE=hachaos/userland:$key
	image_current "$USERLAND_IMAGE" "$key" && return
	docker import -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		-c "LABEL io.hachaos.inputs=$key" "$tar" "$USERLAND_IMAGE" >/dev/null
	log "built $USERLAND_IMAGE"
}

# The node agent's image (provider existing): the Debian userland (nsenter from
# util-linux, iptables, a shell) and the static hachaos-probe, whose `agent` mode serves
# the faults' commands (internal/agent). make build writes the probe first. Users whose
# clusters pull from a registry push this tag to their mirror and name it in the Spec's
# agent.image.
AGENT_IMAGE=hachaos/agent:v1
agent_image() {
	local probe=$repo/_output/bin/hachaos-probe key dir
	[ -x "$probe" ] || die "no $probe: run make build first"
	key=$(hash_str "$(image_inputs "$USERLAND_IMAGE")" "$(hash_of "$probe")")
	image_current "$AGENT_IMAGE" "$key" && return
	dir=$(mktemp -d)
	cp "$probe" "$dir/"
	printf 'FROM %s\nCOPY hachaos-probe /usr/local/bin/\nLABEL io.hachaos.inputs=%s\n' "$USERLAND_IMAGE" "$key" >"$dir/Dockerfile"
	docker_build "$AGENT_IMAGE" "$dir"
	rm -rf "$dir"
	log "built $AGENT_IMAGE"
}

# The HAProxy image has no ENTRYPOINT, only a CMD: kind starts its LB image with a
# command of its own (`bash -c '... envoy -c ...'`), which must replace the CMD.
haproxy_image() {
	local dockerfile key dir
	dockerfile=$(printf 'FROM %s\nCOPY envoy /usr/local/bin/envoy\nRUN mkdir -p /home/envoy /usr/local/etc/haproxy && haproxy -v\nSTOPSIGNAL SIGUSR1\nCMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]\n' "$USERLAND_IMAGE")
	key=$(hash_str "$dockerfile" "$(image_inputs "$USERLAND_IMAGE")" "$(hash_of "$here/images/lb/envoy")")
	if ! image_current "$HAPROXY_IMAGE" "$key"; then
		dir=$(mktemp -d)
		cp "$here/images/lb/envoy" "$dir/"
		printf '%s\nLABEL io.hachaos.inputs=%s\n' "$dockerfile" "$key" >"$dir/Dockerfile"
		docker_build "$HAPROXY_IMAGE" "$dir"
		rm -rf "$dir"
		log "built $HAPROXY_IMAGE"
	fi
	# kind starts its LB from this tag; where it was never pulled, HAProxy bootstraps instead
	local kind_lb
	kind_lb=$(grep -oE 'Image = "[^"]+"' "$(go env GOMODCACHE)/sigs.k8s.io/kind@$KIND_VERSION/pkg/cluster/internal/loadbalancer/const.go" | cut -d'"' -f2)
	if ! docker image inspect "$kind_lb" >/dev/null 2>&1 || [ -n "$(image_inputs "$kind_lb")" ]; then
		docker tag "$HAPROXY_IMAGE" "$kind_lb"
		log "tagged $HAPROXY_IMAGE as $kind_lb (kind's LB image; cannot be pulled here)"
	fi
}

# kube-proxy needs iptables (a Debian userland) and a wrapper choosing its backend
kube_proxy_image() {
	local image=$1 key dir
	key=$(hash_str "$(hash_of "$BIN/kube-proxy" "$here/images/kube-proxy/kube-proxy")" "$(image_inputs "$USERLAND_IMAGE")")
	image_current "$image" "$key" && return
	dir=$(mktemp -d)
	cp "$BIN/kube-proxy" "$dir/kube-proxy.real"
	cp "$here/images/kube-proxy/kube-proxy" "$dir/kube-proxy"
	printf 'FROM %s\nCOPY kube-proxy kube-proxy.real /usr/local/bin/\nLABEL io.hachaos.inputs=%s\nENTRYPOINT ["/usr/local/bin/kube-proxy"]\n' \
		"$USERLAND_IMAGE" "$key" >"$dir/Dockerfile"
	docker_build "$image" "$dir"
	rm -rf "$dir"
	log "built $image"
}

component_images() {
	local c
	for c in kube-apiserver kube-controller-manager kube-scheduler; do binary_image "$(image_for "$c")" "$BIN/$c"; done
	kube_proxy_image "$(image_for kube-proxy)"
	binary_image "$ETCD_IMAGE" "$BIN/etcd"
	binary_image "$COREDNS_IMAGE" "$BIN/coredns"
	binary_image "$PAUSE_IMAGE" "$BIN/pause"
	binary_image "$CNI_IMAGE" "$CACHE/bin/hachaos-cni"
	binary_image "$AGNHOST_IMAGE" "$BIN/agnhost"
}

node_image() {
	local rootfs_tar images key stage base ctr
	rootfs_tar=$(rootfs node "$NODE_PACKAGES")
	images=("$(image_for kube-apiserver)" "$(image_for kube-controller-manager)" "$(image_for kube-scheduler)"
		"$(image_for kube-proxy)" "$ETCD_IMAGE" "$COREDNS_IMAGE" "$PAUSE_IMAGE" "$CNI_IMAGE" "$AGNHOST_IMAGE")
	key=$(hash_str "$(basename "$rootfs_tar")" "$(docker image inspect -f '{{.Id}}' "${images[@]}")" \
		"$(hash_of "$BIN"/kubeadm "$BIN"/kubelet "$BIN"/kubectl "$BIN"/crictl)" \
		"$(hash_of "$here/images/node/assemble.sh" "$here"/images/node/*.yaml)" "$KIND_VERSION")
	image_current "$NODE_IMAGE" "$key" && { log "$NODE_IMAGE is current"; return; }

	base=hachaos/node-rootfs:$(basename "$rootfs_tar" .tar | cut -d- -f2)
	docker image inspect "$base" >/dev/null 2>&1 || docker import "$rootfs_tar" "$base" >/dev/null
	stage=$(mktemp -d)
	mkdir -p "$stage/bin" "$stage/images" "$stage/manifests"
	cp -r "$(go env GOMODCACHE)/sigs.k8s.io/kind@$KIND_VERSION/images/base/files" "$stage/kind-files"
	chmod -R u+w "$stage/kind-files"
	cp "$BIN"/{kubeadm,kubelet,kubectl,crictl} "$stage/bin/"
	cp "$here"/images/node/*.yaml "$stage/manifests/"
	echo "$K8S_VERSION" >"$stage/version"
	echo "$PAUSE_IMAGE" >"$stage/pause-image"
	local i=0 img
	for img in "${images[@]}"; do docker save -o "$stage/images/$((i++)).tar" "$img"; done
	ctr=$(docker run -d --privileged -v "$stage:/staging:ro" -v "$here/images/node/assemble.sh:/assemble.sh:ro" \
		--entrypoint /bin/bash "$base" -c 'sleep infinity')
	docker exec "$ctr" /bin/bash /assemble.sh >"$stage.log" 2>&1 ||
		{ tail -30 "$stage.log" >&2; docker rm -f "$ctr" >/dev/null; die "node assembly failed (log: $stage.log)"; }
	docker commit -c 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' -c 'ENV container=docker' \
		-c 'CMD []' "$ctr" "$NODE_IMAGE-unsealed" >/dev/null
	docker rm -f "$ctr" >/dev/null
	# docker commit cannot set STOPSIGNAL; systemd as PID 1 halts on SIGRTMIN+3
	printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\nLABEL io.hachaos.inputs=%s\n' "$NODE_IMAGE-unsealed" "$key" |
		docker_build "$NODE_IMAGE" -
	docker rmi "$NODE_IMAGE-unsealed" >/dev/null
	rm -rf "$stage" "$stage.log"
	log "built $NODE_IMAGE"
}

main() {
	docker info >/dev/null 2>&1 || die "Docker does not answer; run scripts/setup-docker.sh first"
	log "building offline images for Kubernetes $K8S_VERSION (kind $KIND_VERSION, cache $CACHE)"
	# the root filesystems download while the compiler runs; both are cached
	(rootfs node "$NODE_PACKAGES" >/dev/null && rootfs userland "$USERLAND_PACKAGES" >/dev/null) &
	local rootfs_pid=$!
	step "compile Kubernetes $K8S_VERSION" build_kubernetes
	ETCD_IMAGE=$(image_for etcd) COREDNS_IMAGE=$(image_for coredns) PAUSE_IMAGE=$(image_for pause)
	[ -n "$ETCD_IMAGE" ] && [ -n "$COREDNS_IMAGE" ] && [ -n "$PAUSE_IMAGE" ] || die "kubeadm listed no etcd/coredns/pause image"
	step "compile etcd for $ETCD_IMAGE" build_etcd
	step "compile CoreDNS for $COREDNS_IMAGE" build_coredns
	step "compile crictl, pause, hachaos-cni" build_small_tools
	AGNHOST_IMAGE=registry.k8s.io/e2e-test-images/agnhost:$(agnhost_version)
	step "compile agnhost for $AGNHOST_IMAGE" build_agnhost
	step "debootstrap root filesystems" wait "$rootfs_pid"
	step "userland image" userland_image
	step "node agent image $AGENT_IMAGE" agent_image
	step "load balancer images" haproxy_image
	step "component images" component_images
	step "node image $NODE_IMAGE" node_image
	log "images ready: $NODE_IMAGE $HAPROXY_IMAGE $AGENT_IMAGE"
}

# agent_only builds the node agent's image and the userland image it starts from.
agent_only() {
	docker info >/dev/null 2>&1 || die "Docker does not answer; run scripts/setup-docker.sh first"
	step "debootstrap the userland root filesystem" rootfs userland "$USERLAND_PACKAGES"
	step "userland image" userland_image
	step "node agent image $AGENT_IMAGE" agent_image
	log "image ready: $AGENT_IMAGE"
}

# sourced (by tests or to run one function) it only defines the functions
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	if $AGENT_ONLY; then agent_only; else main "$@"; fi
fi
