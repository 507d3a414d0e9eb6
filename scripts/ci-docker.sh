#!/usr/bin/env bash
# CI's Docker steps: install docker.io + debootstrap when missing, start dockerd
# when it is not running, then build the experiment image. The Docker tests
# run afterwards under `npm test` with CI set, where they fail (never skip) if
# Docker is unusable. Any failure here stops CI with the reason.
#   scripts/ci-docker.sh            daemon + image
#   scripts/ci-docker.sh --daemon   daemon only
#   scripts/ci-docker.sh --test     daemon + image + tests/runtime/docker.test.ts
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode="${1:-all}"
log_file="${DOCKERD_LOG:-/var/log/peragus-dockerd.log}"
say() { printf '[ci-docker] %s\n' "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

# 1) Packages.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]})); then
  [[ $EUID -eq 0 ]] || die "missing ${missing[*]} and not root: install them (apt-get install -y docker.io debootstrap)"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi

# 2) Daemon. Started detached so it outlives this script; each attempt relaxes
#    one thing a nested or minimal host may lack (iptables, overlayfs). The
#    experiment containers use no network, so losing the bridge costs nothing.
start_dockerd() {
  local pidfile=/var/run/docker.pid
  if [[ -f $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    rm -f "$pidfile" # stale, from a daemon that died
  fi
  say "starting dockerd $* (log: $log_file)"
  mkdir -p "$(dirname "$log_file")"
  echo "=== $(date -u +%FT%TZ) dockerd $*" >>"$log_file"
  setsid nohup dockerd "$@" >>"$log_file" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      say "dockerd ready (pid $pid): $(docker info --format '{{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}')"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

if docker info >/dev/null 2>&1; then
  say "Docker daemon already running: $(docker info --format '{{.ServerVersion}}')"
else
  [[ $EUID -eq 0 ]] || die "the Docker daemon is not running and starting it needs root"
  if pgrep -x dockerd >/dev/null; then
    # Running but not answering yet (e.g. just started by someone else).
    for _ in $(seq 1 30); do docker info >/dev/null 2>&1 && break || sleep 1; done
  fi
  if ! docker info >/dev/null 2>&1; then
    start_dockerd ||
      start_dockerd --iptables=false --ip6tables=false --bridge=none ||
      start_dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs || {
      say "dockerd could not start; last lines of $log_file:"
      tail -n 40 "$log_file" >&2 || true
      die "Docker daemon unavailable: the Docker tests cannot run"
    }
  fi
fi
[[ $mode == --daemon ]] && exit 0

# 3) Image. The wheels come from the kernel venv's pip, so make sure it exists.
node scripts/setup.mjs
container-image/build.sh
[[ $mode == --test ]] || exit 0

# 4) Optional: the Docker tests on their own.
CI="${CI:-true}" npx vitest run tests/runtime/docker.test.ts
