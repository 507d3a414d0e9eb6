#!/usr/bin/env bash
# Produces the local base image peragus/base:bookworm (Debian bookworm + python3,
# python3-venv, ca-certificates, tini) that the top-level Dockerfile builds FROM.
# Order: keep an existing image; else derive it from debian:bookworm-slim if the
# registry answers; else debootstrap from the host's Debian mirror and
# `docker import` (no registry needed). The debootstrapped rootfs tarball is cached
# in container-image/build/ so a deleted image is re-imported without a rebuild.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"
tag="${PERAGUS_BASE_IMAGE:-peragus/base:bookworm}"
suite=bookworm
packages="python3,python3-venv,ca-certificates,tini"
log() { printf '[build-base] %s\n' "$*" >&2; }

if [[ "${1:-}" != "--force" ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag exists; nothing to do (--force rebuilds)"
  exit 0
fi
mkdir -p "$build"

# 1) Registry path: slim image + the same packages, so both paths give one tag.
if timeout 30 docker pull "debian:${suite}-slim" >/dev/null 2>&1; then
  log "pulled debian:${suite}-slim; adding ${packages}"
  DOCKER_BUILDKIT=0 docker build -t "$tag" - <<DOCKERFILE
FROM debian:${suite}-slim
RUN apt-get update && apt-get install -y --no-install-recommends ${packages//,/ } \
 && rm -rf /var/lib/apt/lists/*
DOCKERFILE
  exit 0
fi
log "debian:${suite}-slim not pullable (no registry); using a local rootfs"

tarball="$build/base-rootfs-${suite}.tar"
if [[ ! -s "$tarball" ]]; then
  command -v debootstrap >/dev/null || { log "debootstrap missing: apt-get install -y debootstrap"; exit 1; }
  [[ $EUID -eq 0 ]] || { log "debootstrap needs root"; exit 1; }

  # The host's configured Debian mirror (deb822 URIs: or one-line deb entries).
  mirror="${PERAGUS_DEBIAN_MIRROR:-}"
  if [[ -z "$mirror" ]]; then
    mirror="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
  fi
  if [[ -z "$mirror" ]]; then
    mirror="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' | grep -E '/debian/?$' | head -n1 || true)"
  fi
  mirror="${mirror:-http://deb.debian.org/debian}"
  security="${mirror%/debian*}/debian-security"

  rootfs="$build/base-rootfs"
  rm -rf "$rootfs"
  log "debootstrap ${suite} (minbase + ${packages}) from ${mirror}"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$build/debootstrap.log" 2>&1 ||
    { tail -n 30 "$build/debootstrap.log" >&2; log "debootstrap failed (log: $build/debootstrap.log)"; exit 1; }

  # Pick up security fixes released after the point release. Best effort: the
  # security mirror may be unreachable where only the main mirror is allowed.
  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb ${mirror} ${suite} main
deb ${mirror} ${suite}-updates main
deb ${security} ${suite}-security main
SOURCES
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  if chroot "$rootfs" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq' \
    >>"$build/debootstrap.log" 2>&1; then
    log "security updates applied"
  else
    log "WARNING: could not apply updates from ${suite}-security/-updates (see $build/debootstrap.log)"
  fi

  # Trim what a runtime image never needs (caches, docs, man pages, locales).
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/tmp/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
  : >"$rootfs/etc/resolv.conf"
  : >"$rootfs/etc/hostname"

  tar --numeric-owner -C "$rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  rm -rf "$rootfs"
fi

log "importing $tarball as $tag"
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap ${suite} minbase + ${packages}" \
  "$tarball" "$tag" >/dev/null
log "done: $(docker image inspect -f '{{.Id}} {{.Size}}' "$tag")"
