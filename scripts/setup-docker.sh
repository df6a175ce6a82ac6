#!/usr/bin/env bash
# Makes Docker usable for hachaos on this host, changing only what is missing:
#  1. installs Docker from Debian (docker.io) when no docker CLI/daemon exists;
#  2. starts dockerd in the background when nothing answers (hosts without systemd);
#  3. runs a privileged probe container; only if it fails with the missing-capability
#     error ("unable to apply caps") installs an OCI runtime wrapper that drops
#     CAP_SYS_RESOURCE, which some sandboxes cannot grant (kind nodes are privileged);
#  4. raises inotify limits that multi-node kind clusters exhaust;
#  5. installs the report tools from Debian when missing: xmllint (libxml2-utils, the
#     JUnit schema check) and Chromium (the HTML report is checked in it, headless).
# On a normal Docker host (a laptop, a GitHub runner) steps 1-3 change nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/common.sh"

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/hachaos-dockerd.log}
WRAPPER=/usr/local/libexec/hachaos/runc-drop-sys-resource
PROBE_IMAGE=hachaos/probe:scratch

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

install_docker() {
	if command -v dockerd >/dev/null 2>&1; then return 0; fi
	log "installing docker.io from Debian (no dockerd on this host)"
	as_root apt-get update -qq
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq docker.io >/dev/null
}

start_dockerd() {
	docker_answers && return 0
	log "starting dockerd (log: $DOCKERD_LOG)"
	as_root sh -c "nohup dockerd >>'$DOCKERD_LOG' 2>&1 &"
	local i
	for i in $(seq 1 60); do
		docker_answers && { log "dockerd answers after ${i}s"; return 0; }
		sleep 1 # polling the daemon's socket; nothing to wait on but time
	done
	tail -20 "$DOCKERD_LOG" >&2 || true
	die "dockerd did not answer within 60s"
}

# probe_image makes a tiny image from the host's /bin/true so the probe needs no registry.
probe_image() {
	docker image inspect "$PROBE_IMAGE" >/dev/null 2>&1 && return 0
	local dir bin
	dir=$(mktemp -d)
	bin=$(type -P true)
	cp "$bin" "$dir/true"
	# a dynamic binary needs its loader and libraries; ldd lists none for a static one
	ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
		mkdir -p "$dir$(dirname "$lib")" && cp -L "$lib" "$dir$lib"
	done
	tar -C "$dir" -c . | docker import -c 'ENTRYPOINT ["/true"]' - "$PROBE_IMAGE" >/dev/null
	rm -rf "$dir"
}

privileged_probe() { docker run --rm --privileged "$PROBE_IMAGE" 2>&1; }

install_runtime_wrapper() {
	log "privileged containers fail here (missing CAP_SYS_RESOURCE): installing runtime wrapper"
	command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq jq >/dev/null
	as_root install -D -m 0755 "$here/runc-drop-sys-resource" "$WRAPPER"
	local cfg=/etc/docker/daemon.json
	local current='{}'
	[ -s "$cfg" ] && current=$(cat "$cfg")
	echo "$current" | jq --arg w "$WRAPPER" \
		'.runtimes["hachaos-runc"] = {path: $w} | ."default-runtime" = "hachaos-runc"' |
		as_root tee "$cfg.new" >/dev/null
	as_root mv "$cfg.new" "$cfg"
	log "restarting dockerd with the wrapper as default runtime"
	as_root pkill -x dockerd || true
	local i
	for i in $(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
	start_dockerd
}

ensure_privileged_works() {
	probe_image
	local out
	if out=$(privileged_probe); then return 0; fi
	case "$out" in
	*"unable to apply caps"*) install_runtime_wrapper ;;
	*) die "privileged probe container failed: $out" ;;
	esac
	out=$(privileged_probe) || die "privileged probe still fails with the wrapper: $out"
}

raise_inotify_limits() {
	local key want
	for key in fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512; do
		want=${key#*=}
		if [ "$(sysctl -n "${key%=*}")" -lt "$want" ]; then
			as_root sysctl -qw "$key" || log "could not raise ${key%=*} (continuing)"
		fi
	done
}

# install_report_tools installs xmllint and Chromium from Debian when missing (a host
# that brings its own Chromium sets CHROMIUM to its command instead).
install_report_tools() {
	local missing=()
	command -v xmllint >/dev/null || missing+=(libxml2-utils)
	command -v "${CHROMIUM:-chromium}" >/dev/null || missing+=(chromium)
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]} from Debian"
	as_root apt-get update -qq
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

step "install Docker if missing" install_docker
step "start dockerd if not running" start_dockerd
step "check privileged containers" ensure_privileged_works
raise_inotify_limits
step "install report tools if missing (xmllint, Chromium)" install_report_tools
