#!/usr/bin/env bash
# A 3-node Docker Swarm on one machine, for the swarm runtime's tests and bench.
#
#   scripts/swarm-lab.sh up            build it (idempotent); prints the env file to source
#   scripts/swarm-lab.sh down          tear everything down (idempotent)
#   scripts/swarm-lab.sh status        nodes and registry, or exit 1 when the lab is not up
#   scripts/swarm-lab.sh push IMAGE    push a host image to the lab registry (from the host daemon,
#                                      through a 127.0.0.1 forward); prints its digest ref
#
# Three dockerd daemons, each in its own network namespace with its own data
# root, exec root and containerd, joined by a bridge that lives in a fourth
# namespace (so the host's iptables, whose FORWARD policy Docker sets to DROP,
# never sees the lab's traffic). The host reaches the lab through one veth
# (HOST_IP); the nodes have no default route, so nothing in the lab reaches
# anything but the lab and the host. The manager also runs Debian's
# docker-registry. All data roots and the registry's store are in one tmpfs
# (PERAGUS_SWARM_LAB_TMPFS, default 12g; ~4 GB used with the experiment image on
# every node). The host's own dockerd is not touched.
#
# Needs root, iproute2, docker.io and docker-registry (scripts/install-system-deps.sh).
set -euo pipefail

PREFIX="${PERAGUS_SWARM_LAB_PREFIX:-pgsw}"
NET="${PERAGUS_SWARM_LAB_NET:-10.231.77}"
ROOT="${PERAGUS_SWARM_LAB_ROOT:-/var/lib/peragus-swarm-lab}"
RUN="${PERAGUS_SWARM_LAB_RUN:-/run/peragus-swarm-lab}"
HOST_IP="$NET.1"
REGISTRY="$NET.10:5000"
# The hub (on the host) listens on one port of this range; experiments may reach nothing else.
HUB_PORTS="${PERAGUS_SWARM_HUB_PORTS:-17700-17763}"
NODES=(mgr w1 w2)
declare -A IP=([mgr]="$NET.10" [w1]="$NET.11" [w2]="$NET.12")
LAN="$PREFIX-lan"
HOST_VETH="$PREFIX-host"
ENV_FILE="$RUN/env"

say() { printf '[swarm-lab] %s\n' "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}
sock() { echo "$RUN/$1/docker.sock"; }
dk() {
  local node=$1
  shift
  docker -H "unix://$(sock "$node")" "$@"
}
ns() { echo "$PREFIX-$1"; }
has_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# Waits up to $1 seconds for a command to succeed.
wait_for() {
  local limit=$1
  shift
  local t=0
  until "$@" >/dev/null 2>&1; do
    t=$((t + 1))
    ((t <= limit * 2)) || return 1
    sleep 0.5
  done
}

need() {
  [[ $EUID -eq 0 ]] || die "needs root (network namespaces and dockerd)"
  local cmd
  for cmd in ip iptables dockerd containerd docker docker-registry; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd is missing: run scripts/install-system-deps.sh"
  done
}

net_up() {
  has_ns "$LAN" || ip netns add "$LAN"
  ip -n "$LAN" link set lo up
  ip -n "$LAN" link show br0 >/dev/null 2>&1 || ip -n "$LAN" link add br0 type bridge
  ip -n "$LAN" link set br0 up
  if ! ip link show "$HOST_VETH" >/dev/null 2>&1; then
    ip link add "$HOST_VETH" type veth peer name uplink netns "$LAN"
    ip addr add "$HOST_IP/24" dev "$HOST_VETH"
  fi
  ip link set "$HOST_VETH" up
  ip -n "$LAN" link set uplink master br0 up
  local n
  for n in "${NODES[@]}"; do
    has_ns "$(ns "$n")" || ip netns add "$(ns "$n")"
    ip -n "$(ns "$n")" link set lo up
    if ! ip -n "$(ns "$n")" link show eth0 >/dev/null 2>&1; then
      ip -n "$LAN" link add "$n" type veth peer name eth0 netns "$(ns "$n")"
      ip -n "$(ns "$n")" addr add "${IP[$n]}/24" dev eth0
    fi
    ip -n "$(ns "$n")" link set eth0 up
    ip -n "$LAN" link set "$n" master br0 up
  done
}

daemon_up() {
  local n=$1 dir="$RUN/$1"
  mkdir -p "$dir" "$ROOT/$n"
  if [[ -f $dir/dockerd.pid ]] && kill -0 "$(cat "$dir/dockerd.pid")" 2>/dev/null; then
    wait_for 30 dk "$n" info && return 0
  fi
  # exec-root holds the daemon's own (managed) containerd: nothing is shared with the host's.
  # nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup mounts dockerd needs.
  setsid nohup nsenter --net="/run/netns/$(ns "$n")" dockerd \
    --data-root "$ROOT/$n/docker" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" \
    -H "unix://$(sock "$n")" \
    --insecure-registry "$REGISTRY" \
    --cgroup-parent "/$PREFIX-$n" \
    --bip 172.31.250.1/24 \
    --default-address-pool base=172.30.0.0/16,size=24 \
    --log-driver json-file --log-opt max-size=10m \
    >"$dir/dockerd.log" 2>&1 </dev/null &
  wait_for 60 dk "$n" info || die "dockerd on $n did not start: $(tail -5 "$dir/dockerd.log")"
}

registry_up() {
  local dir="$RUN/registry"
  mkdir -p "$dir" "$ROOT/registry"
  if [[ -f $dir/pid ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then return 0; fi
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $ROOT/registry
  delete:
    enabled: true
http:
  addr: ${REGISTRY}
EOF
  setsid nohup ip netns exec "$(ns mgr)" docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  wait_for 30 ip netns exec "$(ns mgr)" bash -c "exec 3<>/dev/tcp/${REGISTRY%:*}/${REGISTRY#*:}" ||
    die "the registry did not start: $(tail -5 "$dir/log")"
}

swarm_up() {
  local state
  state=$(dk mgr info --format '{{.Swarm.LocalNodeState}}')
  if [[ $state != active ]]; then
    dk mgr swarm init --advertise-addr "${IP[mgr]}" --listen-addr "${IP[mgr]}:2377" \
      --default-addr-pool 172.29.0.0/16 >/dev/null
  fi
  local token n
  token=$(dk mgr swarm join-token -q worker)
  for n in w1 w2; do
    state=$(dk "$n" info --format '{{.Swarm.LocalNodeState}}')
    [[ $state == active ]] && continue
    dk "$n" swarm join --token "$token" --advertise-addr "${IP[$n]}" --listen-addr "${IP[$n]}:2377" \
      "${IP[mgr]}:2377" >/dev/null
  done
  ready() { [[ $(dk mgr node ls --format '{{.Status}}' | grep -c Ready) -eq 3 ]]; }
  wait_for 60 ready || die "the swarm has not 3 ready nodes: $(dk mgr node ls 2>&1)"
  # Labels the tests and the runtime use to tell the nodes apart.
  for n in "${NODES[@]}"; do
    dk mgr node update --label-add "peragus.lab-node=$n" "$(dk "$n" info --format '{{.Swarm.NodeID}}')" >/dev/null
  done
}

# Each node's firewall for its experiments: a task's only way out of its
# overlay is the node's docker_gwbridge, and from there only the hub's address
# and ports are let through (forwarded); the node itself (its Docker API, the
# registry, swarm ports) is refused on INPUT. Idempotent; the rules live in the
# node's namespace, so a restarted dockerd keeps them.
node_firewall() {
  local n=$1 x
  x() { ip netns exec "$(ns "$n")" iptables -w "$@"; }
  x -N PERAGUS-EXP 2>/dev/null || x -F PERAGUS-EXP
  x -A PERAGUS-EXP -d "$HOST_IP" -p tcp -m multiport --dports "${HUB_PORTS/-/:}" -j RETURN
  x -A PERAGUS-EXP -p tcp -j REJECT --reject-with tcp-reset
  x -A PERAGUS-EXP -j REJECT --reject-with icmp-port-unreachable
  x -N DOCKER-USER 2>/dev/null || true
  x -C DOCKER-USER -i docker_gwbridge -j PERAGUS-EXP 2>/dev/null || x -I DOCKER-USER 1 -i docker_gwbridge -j PERAGUS-EXP
  x -C INPUT -i docker_gwbridge -j REJECT 2>/dev/null || x -I INPUT 1 -i docker_gwbridge -j REJECT
}

write_env() {
  cat >"$ENV_FILE" <<EOF
PERAGUS_SWARM_DOCKER_HOST=unix://$(sock mgr)
PERAGUS_SWARM_REGISTRY=$REGISTRY
PERAGUS_SWARM_HUB_HOST=$HOST_IP
PERAGUS_SWARM_HUB_PORTS=$HUB_PORTS
PERAGUS_SWARM_LAB_W1_DOCKER_HOST=unix://$(sock w1)
PERAGUS_SWARM_LAB_W2_DOCKER_HOST=unix://$(sock w2)
PERAGUS_SWARM_LAB_W1_PIDFILE=$RUN/w1/dockerd.pid
PERAGUS_SWARM_LAB_W2_PIDFILE=$RUN/w2/dockerd.pid
EOF
}

alive() { [[ -f $RUN/$1/dockerd.pid ]] && kill -0 "$(cat "$RUN/$1/dockerd.pid")" 2>/dev/null; }

up() {
  need
  local t0=$SECONDS n any=false
  for n in "${NODES[@]}"; do alive "$n" && any=true; done
  # Left over from a machine restart or a killed session: start clean rather
  # than revive an old swarm. (One dead daemon in a live lab is restarted below.)
  if ! $any && { has_ns "$LAN" || [[ -d $ROOT ]]; }; then
    say "a stale lab is here with no daemon running: tearing it down first"
    down
  fi
  # The data roots live in a tmpfs: no disk traffic for the image's layers on
  # every node, and `down` frees them at once instead of deleting gigabytes.
  mkdir -p "$ROOT"
  mountpoint -q "$ROOT" || mount -t tmpfs -o "size=${PERAGUS_SWARM_LAB_TMPFS:-12g},mode=0711" peragus-swarm-lab "$ROOT"
  net_up
  for n in "${NODES[@]}"; do daemon_up "$n" & done
  wait
  for n in "${NODES[@]}"; do dk "$n" info >/dev/null 2>&1 || die "dockerd on $n is not up"; done
  registry_up
  swarm_up
  for n in "${NODES[@]}"; do node_firewall "$n"; done
  write_env
  say "up in $((SECONDS - t0)) s: $(dk mgr node ls --format '{{.Hostname}}/{{.Status}}/{{.ManagerStatus}}' | tr '\n' ' ')"
  echo "$ENV_FILE"
}

stop_pid() {
  local pidfile=$1 pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

down() {
  [[ $EUID -eq 0 ]] || die "needs root"
  local n
  for n in "${NODES[@]}"; do
    if [[ -S $(sock "$n") ]]; then
      # Containers first, so no shim outlives its daemon.
      timeout 60 bash -c "docker -H unix://$(sock "$n") ps -aq | xargs -r docker -H unix://$(sock "$n") rm -f" \
        >/dev/null 2>&1 || true
    fi
  done
  for n in "${NODES[@]}"; do stop_pid "$RUN/$n/dockerd.pid" & done
  stop_pid "$RUN/registry/pid" &
  wait
  # Anything still running inside the lab's namespaces was started by the lab.
  for n in "${NODES[@]}" lan; do
    if has_ns "$PREFIX-$n"; then
      ip netns pids "$PREFIX-$n" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    fi
  done
  # Mounts the daemons left (overlay layers, netns files), then the tmpfs itself.
  grep -oE " ($ROOT|$RUN)/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  if mountpoint -q "$ROOT"; then umount -l "$ROOT"; fi
  ip link del "$HOST_VETH" 2>/dev/null || true
  for n in "${NODES[@]}" lan; do
    has_ns "$PREFIX-$n" && ip netns del "$PREFIX-$n"
  done
  rm -rf "$RUN" "$ROOT"
  say "down"
}

# A node lost as a machine is lost: its containers stop first (SIGSTOP, so none
# reports anything after the loss), then its dockerd, containerd and shims and
# its containers die together (SIGKILL). Killing dockerd alone is not a loss:
# containers live on under containerd and may finish before the manager marks
# the node down. `up` starts the node again.
crash() {
  local n=${1:?usage: swarm-lab.sh crash NODE} procs daemons
  [[ " ${NODES[*]} " == *" $n "* ]] || die "no node $n: one of ${NODES[*]}"
  alive "$n" || die "dockerd on $n is not running"
  procs=$(cat /sys/fs/cgroup/pids/"$PREFIX-$n"/*/cgroup.procs 2>/dev/null || true)
  daemons=$(ip netns pids "$(ns "$n")")
  [[ -z $procs ]] || kill -STOP $procs 2>/dev/null || true
  kill -9 $daemons $procs 2>/dev/null || true
  rm -f "$RUN/$n/dockerd.pid"
  say "crashed $n: $(wc -w <<<"$daemons") daemon processes, $(wc -w <<<"$procs") container processes"
}

status() {
  [[ -S $(sock mgr) ]] || {
    say "not up"
    exit 1
  }
  dk mgr node ls
  ip netns exec "$(ns mgr)" bash -c "exec 3<>/dev/tcp/${REGISTRY%:*}/${REGISTRY#*:}" && say "registry at $REGISTRY"
}

# Pushes a host image to the lab registry and prints REGISTRY/name@sha256:… .
# The host's own daemon pushes through a forward on 127.0.0.1 (a registry there
# needs no TLS for Docker): no `docker save | load` of the whole image into the
# manager, and layers the registry already has are skipped. The digest is the
# manifest's, the same under any registry name.
push() {
  local image=${1:?usage: swarm-lab.sh push IMAGE}
  [[ -S $(sock mgr) ]] || die "the lab is not up: run scripts/swarm-lab.sh up"
  docker image inspect "$image" >/dev/null 2>&1 || die "no image $image on the host's Docker"
  local name=${image%%:*} port fwd_in fwd_out digest
  coproc FWD { exec node "$(dirname "${BASH_SOURCE[0]}")/tcp-forward.mjs" "$REGISTRY"; }
  fwd_in=${FWD[1]}
  fwd_out=${FWD[0]}
  read -r -t 10 port <&"$fwd_out" || die "the forward to the lab registry did not start"
  local via="127.0.0.1:$port/$name:lab"
  docker tag "$image" "$via"
  if ! docker push "$via" >"$RUN/push.log" 2>&1; then
    docker rmi "$via" >/dev/null 2>&1 || true
    exec {fwd_in}>&-
    die "push of $image failed: $(tail -3 "$RUN/push.log")"
  fi
  digest=$(grep -oE 'digest: sha256:[0-9a-f]{64}' "$RUN/push.log" | tail -1 | cut -d' ' -f2)
  docker rmi "$via" >/dev/null 2>&1 || true
  exec {fwd_in}>&-
  wait "$FWD_PID" 2>/dev/null || true
  [[ -n $digest ]] || die "the push of $image printed no digest: $(tail -3 "$RUN/push.log")"
  echo "$REGISTRY/$name@$digest"
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
push) push "${2:-}" ;;
crash) crash "${2:-}" ;;
*) die "usage: scripts/swarm-lab.sh up|down|status|push IMAGE|crash NODE" ;;
esac
