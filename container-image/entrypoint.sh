#!/bin/bash
# Container entrypoint (run under tini as PID 1's child): makes sure the
# endpoint folder exists on the experiment volume, then runs the command.
set -euo pipefail
mkdir -p "${PERAGUS_WORK_DIR:-/experiment}/.peragus" 2>/dev/null || true
exec "$@"
