# The experiment image: Peragus in its node role (the in-container notebook
# server), Node 20 and the PySD kernel's Python venv. Built by
# container-image/build.sh, which streams a minimal context (sources, wheels,
# production node_modules, the node binary) so the build needs no network.
ARG BASE_IMAGE=peragus/base:bookworm

# Stage 1: the kernel venv from pre-downloaded wheels; the wheels, pip and the
# packages' own test suites (~120 MB, never imported at run time) stay behind.
# --ignore-requires-python: bookworm ships CPython 3.11.2 and a few pure-Python
# pins declare a later 3.11.x floor (build.sh lists them; the smoke test below
# imports them).
FROM ${BASE_IMAGE} AS python
LABEL peragus.build-stage="python"
COPY kernels/pysd/requirements.txt /build/requirements.txt
COPY container-image/build/wheels /build/wheels
RUN python3 -m venv /opt/peragus/venv \
 && /opt/peragus/venv/bin/pip install --quiet --no-index --find-links /build/wheels \
      --no-cache-dir --disable-pip-version-check --ignore-requires-python -r /build/requirements.txt \
 && /opt/peragus/venv/bin/pip uninstall --quiet --yes pip \
 && find /opt/peragus/venv/lib/python3*/site-packages -mindepth 2 -depth -type d \
      \( -name tests -o -name test \) -exec rm -rf {} +

# Stage 2: the runtime image.
FROM ${BASE_IMAGE}
ARG PERAGUS_VERSION=0.0.0
LABEL org.opencontainers.image.title="peragus-experiment" \
      org.opencontainers.image.description="Peragus node role + PySD kernel, one container per experiment" \
      org.opencontainers.image.version="${PERAGUS_VERSION}"

# The non-root user every experiment runs as (the runtime may pass another uid).
RUN groupadd --gid 10001 peragus \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin peragus \
 && mkdir -p /experiment && chown 10001:10001 /experiment

COPY --from=python /opt/peragus/venv /opt/peragus/venv
COPY container-image/build/node /usr/local/bin/node
COPY container-image/entrypoint.sh /usr/local/bin/peragus-entrypoint
COPY node_modules /opt/peragus/app/node_modules

# peragus_pysd is imported from the app tree (as scripts/setup.mjs does on the host);
# then a smoke test that the native pieces load on this base.
RUN site="$(/opt/peragus/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && echo /opt/peragus/app/kernels/pysd/python > "$site/peragus_pysd.pth" \
 && node --version \
 && /opt/peragus/venv/bin/python -c 'import pysd, ipykernel, zmq, pyarrow, netCDF4, scipy, SALib, matplotlib, bs4, soupsieve' \
 && cd /opt/peragus/app \
 && node -e 'require("zeromq"); import("@duckdb/node-api").then(() => console.log("native modules ok"))'

# Sources last: an edit rebuilds only these cheap layers.
COPY package.json package-lock.json /opt/peragus/app/
COPY bin /opt/peragus/app/bin
COPY srcmd/src /opt/peragus/app/srcmd/src
COPY kernels/pysd /opt/peragus/app/kernels/pysd
# Bytecode compiled once here: the read-only root (and PYTHONDONTWRITEBYTECODE)
# would otherwise make every kernel recompile peragus_pysd (~0.2 CPU-s a start).
RUN /opt/peragus/venv/bin/python -m compileall -q /opt/peragus/app/kernels/pysd/python
COPY notebook-server/src /opt/peragus/app/notebook-server/src
# The CLI bundle built by set-up (scripts/build-bundle.mjs): the node role starts without tsx.
COPY dist/bundle /opt/peragus/app/dist/bundle
# The node role's V8 startup snapshot (scripts/build-bundle.mjs), built again here: a blob
# holds the paths it was built at and runs only on the node binary that built it.
RUN cd /opt/peragus/app/dist/bundle/cli \
 && node --snapshot-blob node-role.blob --build-snapshot node-role.cjs \
 && printf '{"node":"%s","execPath":"%s"}\n' "$(node --version)" "$(command -v node)" > node-role.blob.json

ENV PERAGUS_PYTHON=/opt/peragus/venv/bin/python \
    PERAGUS_VENV=/opt/peragus/venv \
    PERAGUS_WORK_DIR=/experiment \
    PERAGUS_HOME=/experiment/.peragus \
    PATH=/opt/peragus/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    HOME=/tmp \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    IPYTHONDIR=/tmp/ipython \
    JUPYTER_RUNTIME_DIR=/tmp/jupyter-runtime \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8

# A tmpfs mounted on /experiment (the swarm runtime's work dir) keeps this
# folder's mode and not its owner: 1777 lets the experiment user write there.
# The Docker runtime bind-mounts its volume over it.
RUN chmod 1777 /experiment

USER 10001:10001
WORKDIR /experiment
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/peragus-entrypoint"]
# `peragus node --socket … --work-dir …`, started from the snapshot (about half the CPU of the bundle).
CMD ["node", "--snapshot-blob", "/opt/peragus/app/dist/bundle/cli/node-role.blob", "/opt/peragus/app/dist/bundle/cli/node-role.cjs", "--socket", "/experiment/.peragus/node.sock", "--work-dir", "/experiment"]
