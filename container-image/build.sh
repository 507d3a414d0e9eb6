#!/usr/bin/env bash
# Builds the experiment image peragus/experiment:<version> from the top-level
# Dockerfile with no network inside the build: Python wheels, the node binary
# and production node_modules are prepared on the host and streamed in as a
# minimal build context. Skips the build when its inputs are unchanged, and
# records the image id in container-image/build/image.json.
#   container-image/build.sh [--force]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="$here/build"
cd "$root"
log() { printf '[build-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

force=0
[[ "${1:-}" == "--force" ]] && force=1
command -v docker >/dev/null || die "docker CLI not found (apt-get install -y docker.io)"
docker info >/dev/null 2>&1 || die "Docker daemon not reachable: start dockerd (scripts/ci-docker.sh does) or set DOCKER_HOST"

version="$(node -p 'require("./package.json").version')"
image="${PERAGUS_IMAGE:-peragus/experiment:${version}}"
base="${PERAGUS_BASE_IMAGE:-peragus/base:bookworm}"
mkdir -p "$build"
started=$SECONDS

# 1) Base image (cached: a no-op when it exists).
PERAGUS_BASE_IMAGE="$base" "$here/build-base.sh"
base_id="$(docker image inspect -f '{{.Id}}' "$base")"

# 2) Node binary: the host's Node 20, which must be a plain glibc ELF binary
#    (not a shell shim from a version manager) to run on the bookworm base.
node_bin="$(readlink -f "$(command -v node)")"
node_version="$(node --version)"
[[ "$node_version" == v20.* ]] || die "host node is $node_version; the image needs Node 20"
head -c 4 "$node_bin" | grep -q $'\x7fELF' || die "$node_bin is not an ELF binary (a wrapper script?)"
if ! cmp -s "$node_bin" "$build/node" 2>/dev/null; then
  cp "$node_bin" "$build/node.partial" && mv "$build/node.partial" "$build/node"
fi

# 3) Production node_modules: top-level packages the lockfile does not mark
#    dev-only; prebuilt binaries for other platforms are left out.
node -e '
  const lock = require("./package-lock.json");
  const fs = require("node:fs");
  const keep = Object.entries(lock.packages)
    .filter(([k, v]) => k.startsWith("node_modules/") && !v.dev && k.split("node_modules/").length === 2)
    .map(([k]) => k)
    .filter((k) => fs.existsSync(k))
    .sort();
  fs.writeFileSync(process.argv[1], keep.join("\n") + "\n");
' "$build/node_modules.list"
excludes=(--exclude='node_modules/zeromq/build/darwin' --exclude='node_modules/zeromq/build/win32'
  --exclude='node_modules/zeromq/build/linux/*/node/musl-*' --exclude='node_modules/zeromq/build/linux/arm*'
  --exclude='*.map' --exclude='__pycache__' --exclude='*.pyc' --exclude='kernels/pysd/.venv' --exclude='.*.tmp')

# 4) Python wheels for the pinned kernel requirements, built by a host CPython
#    3.11 (the bookworm base has 3.11, so cp311 manylinux wheels install there).
req="kernels/pysd/requirements.txt"
req_hash="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ "$(cat "$build/wheels/.stamp" 2>/dev/null || true)" != "$req_hash" ]]; then
  py=""
  for cand in "${PERAGUS_VENV:-kernels/pysd/.venv}/bin/python" python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
      [[ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "3.11" ]] &&
      "$cand" -m pip --version >/dev/null 2>&1; then
      py="$cand"
      break
    fi
  done
  [[ -n "$py" ]] || die "no host Python 3.11 with pip to fetch wheels (run npm run setup, or install python3.11)"
  log "fetching/building wheels for $req with $py"
  rm -rf "$build/wheels" && mkdir -p "$build/wheels"
  "$py" -m pip wheel --quiet --disable-pip-version-check -r "$req" -w "$build/wheels"
  echo "$req_hash" >"$build/wheels/.stamp"
fi

# Wheels whose Requires-Python excludes the base image's Python get installed
# anyway (see the Dockerfile); name them so the exception stays visible.
base_py="$(docker run --rm --network none "$base" python3 -c 'import platform; print(platform.python_version())')"
"${PERAGUS_VENV:-kernels/pysd/.venv}/bin/python" - "$build/wheels" "$base_py" <<'PY' || true
import sys, zipfile, pathlib
from packaging.specifiers import SpecifierSet
folder, version = sys.argv[1], sys.argv[2]
for whl in sorted(pathlib.Path(folder).glob("*.whl")):
    with zipfile.ZipFile(whl) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        for line in z.read(meta).decode("utf8", "replace").splitlines():
            if line.startswith("Requires-Python:"):
                spec = line.split(":", 1)[1].strip()
                if spec and version not in SpecifierSet(spec):
                    print(f"[build-image] note: {whl.name} declares Requires-Python {spec}; base has {version}", file=sys.stderr)
            if not line:
                break
PY

# 5) The CLI bundle the image runs (no tsx at run time), then the build context,
#    as a file list relative to the repo root.
node scripts/build-bundle.mjs
context=(Dockerfile package.json package-lock.json bin srcmd/src notebook-server/src dist/bundle kernels/pysd
  container-image/entrypoint.sh container-image/build/node container-image/build/wheels)
mapfile -t modules <"$build/node_modules.list"

# Inputs hash: everything that lands in the image, plus the base image id.
input_hash="$(
  {
    echo "base $base_id"
    echo "node $node_version"
    cat "$build/node_modules.list"
    find Dockerfile package.json package-lock.json bin srcmd/src notebook-server/src dist/bundle kernels/pysd \
      container-image/entrypoint.sh container-image/build.sh -type f \
      -not -path 'kernels/pysd/.venv/*' -not -name '*.pyc' -not -path '*/__pycache__/*' -not -name '.*' -print0 |
      sort -z | xargs -0 sha256sum 2>/dev/null || true
    cat "$build/wheels/.stamp"
  } | sha256sum | cut -d' ' -f1
)"

recorded="$(node -e 'try { const j = require(process.argv[1]); console.log(`${j.input_hash} ${j.image_id}`) } catch { console.log("") }' "$build/image.json")"
current_id="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
if [[ $force -eq 0 && -n "$current_id" && "$recorded" == "$input_hash $current_id" ]]; then
  log "$image is up to date ($current_id); --force rebuilds"
  exit 0
fi

log "building $image (context: sources, $(wc -l <"$build/node_modules.list") node packages, $(find "$build/wheels" -name '*.whl' | wc -l) wheels)"
# The classic builder takes a tar context on stdin; BuildKit is not needed.
# tar exit 1 only means a file changed while being read (others edit the tree
# in parallel); anything worse (2) fails the build.
context_tar() {
  if [[ $1 == python ]]; then
    tar -c Dockerfile "$req" container-image/build/wheels
  else
    tar -c --sort=name "${excludes[@]}" "${context[@]}" "${modules[@]}" || [[ $? -eq 1 ]]
  fi
}
: >"$build/docker-build.log"
# The venv stage is tagged so its (slow) layer survives the pruning below as cache.
for target in python final; do
  args=(-f Dockerfile --build-arg "BASE_IMAGE=$base" --build-arg "PERAGUS_VERSION=$version")
  if [[ $target == python ]]; then
    args+=(--target python -t "peragus/experiment-build:python")
  else
    args+=(-t "$image" --label "peragus.input_hash=$input_hash")
  fi
  context_tar "$target" | DOCKER_BUILDKIT=0 docker build --force-rm "${args[@]}" - >>"$build/docker-build.log" 2>&1 ||
    { tail -n 40 "$build/docker-build.log" >&2; die "docker build failed (log: $build/docker-build.log)"; }
done

image_id="$(docker image inspect -f '{{.Id}}' "$image")"
size="$(docker image inspect -f '{{.Size}}' "$image")"
cat >"$build/image.json" <<JSON
{
  "image": "$image",
  "image_id": "$image_id",
  "input_hash": "$input_hash",
  "base_image": "$base",
  "base_image_id": "$base_id",
  "node_version": "$node_version",
  "size_bytes": $size,
  "built_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
JSON
# Dangling layers from earlier builds of the same tag only take space.
for label in peragus.input_hash peragus.build-stage; do
  docker image prune -f --filter "label=$label" >/dev/null 2>&1 || true
done
log "built $image $image_id ($((size / 1024 / 1024)) MiB) in $((SECONDS - started)) s"
