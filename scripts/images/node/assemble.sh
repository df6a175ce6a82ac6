#!/bin/bash
# Runs INSIDE a privileged container started from the node rootfs by build-images.sh; lays
# kind's base files over the Debian rootfs the way kind's images/base/Dockerfile does and
# pre-loads the control-plane images into containerd. /staging is mounted read-only:
#   kind-files/  kind's images/base/files from the kind Go module
#   bin/         kubeadm kubelet kubectl crictl
#   images/*.tar component images (docker save), imported under the names kubeadm asks for
#   manifests/   default-cni.yaml default-storage.yaml
#   version      the Kubernetes version string
set -euxo pipefail
S=/staging

cp -a "$S/kind-files/." /
chmod 755 /usr/local/bin/* /kind/bin/*
# trim systemd as kind's base image does: no getty, no udev, nothing in multi-user.target
find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete
rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
	/lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
	/lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>/etc/systemd/journald.conf
ln -sf /usr/lib/systemd/systemd /sbin/init
systemctl enable kubelet.service containerd.service undo-mount-hacks.service
systemctl mask systemd-binfmt.service
mkdir -p /etc/kubernetes/manifests /opt/cni/bin /kind/manifests

# kind's units and scripts expect containerd and runc under /usr/local; Debian puts them in /usr
for b in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$b" "/usr/local/bin/$b"; done
ln -sf /usr/sbin/runc /usr/local/sbin/runc
for p in host-local loopback ptp portmap; do cp "/usr/lib/cni/$p" /opt/cni/bin/; done

ctr oci spec |
	jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
	jq 'del(.process.rlimits)' >/etc/containerd/cri-base.json
# Some hosts (sandboxes, rootless) cannot grant CAP_SYS_RESOURCE, so runc cannot lower
# oom_score_adj and every Pod sandbox would fail. Restricting the adjustment is harmless
# elsewhere: a container then keeps at least its parent's score.
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml

install -m 0755 "$S/bin/kubeadm" "$S/bin/kubelet" "$S/bin/kubectl" /usr/bin/
install -m 0755 "$S/bin/crictl" /usr/local/bin/
cp "$S/version" /kind/version
cp "$S/manifests/"*.yaml /kind/manifests/

# import the images with a throwaway containerd, as kind's node-image builder does
containerd >/tmp/containerd.log 2>&1 &
ctrd=$!
for i in $(seq 1 30); do ctr version >/dev/null 2>&1 && break; sleep 1; done
for tar in "$S"/images/*.tar; do
	ctr -n k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests "$tar"
done
# kind's containerd config pins the sandbox image at this tag
ctr -n k8s.io images tag "$(cat "$S/pause-image")" registry.k8s.io/pause:3.10 || true
ctr -n k8s.io images ls -q
kill "$ctrd"
wait "$ctrd" || true
rm -rf /tmp/* /var/log/*.log /var/cache/apt/* /var/lib/apt/lists/*
