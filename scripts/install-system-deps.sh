#!/usr/bin/env bash
# Debian packages Peragus needs beyond Node and Python: Docker (the docker
# runtime and its tests), debootstrap (the local base image when no registry
# is reachable), Chromium (browser tests), bubblewrap (the local runtime's
# sandbox; setpriv from util-linux drops it to the experiment uid under root),
# e2fsprogs (capped experiment volumes), and for the swarm lab
# (scripts/swarm-lab.sh) Debian's docker-registry, iproute2, iptables (each
# node's firewall for its experiments) and util-linux's nsenter, and openssl
# (the hub's TLS test makes a throw-away certificate), strace (the test of which writes are
# flushed to disk). Idempotent; needs root + apt.
set -euo pipefail
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
{ command -v setpriv && command -v nsenter; } >/dev/null 2>&1 || missing+=(util-linux)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v strace >/dev/null 2>&1 || missing+=(strace)
# mkfs.ext4: the size-capped experiment volume (runtime/volume-cap.ts).
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /sbin/mkfs.ext4 ] || missing+=(e2fsprogs)
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages: ${missing[*]} — install them with your package manager (needs root)" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
