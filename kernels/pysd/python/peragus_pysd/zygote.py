"""A kernel zygote: one Python process with ipykernel, PySD and peragus_pysd imported
that forks each experiment's kernel, so a kernel starts without the ~2 s import bill.

``python -m peragus_pysd.zygote --socket PATH`` imports everything once, listens
on a Unix socket (mode 0600) and prints ``ready`` on stdout. Each connection
asks for one kernel with one JSON line::

    {"argv": ["-f", "/path/kernel-xyz.json"], "cwd": "/work/dir", "env": {...}}

A plan's model check loads the model, which runs its code, so it never runs
in this process: the host registers a sandbox made for that one check
(``"role": "check"``) and the check is forked into it exactly as a kernel is
(:func:`peragus_pysd.zygote_child.run_check`; the request comes from
:mod:`peragus_pysd.check_client` inside that sandbox). Its socket serves that
one check and nothing else; the main socket refuses checks.

With ``--checks PATH`` the zygote also forks a *check server*
(:func:`fork_check_server`) once the imports kernels and checks share are done:
it registers and forks model checks only (on ``PATH``, the host's alone, like
the main socket) and ends with the zygote. Who waits first decides the order.
With ``--checks-first`` (``peragus run``: the plan's check is its critical
path) the zygote imports PySD's translators itself and forks the check server
before it imports what kernels need; else (a host serving sessions, whose
first kernel waits for the zygote) the check server imports the translators
itself, beside the zygote's kernel imports.

The zygote forks; the child isolates itself (:func:`isolate`: new session,
the requester's cwd and environment, stdin from /dev/null, stdout/stderr to a
pipe) and only then runs ``IPKernelApp`` — no experiment code runs before
that. The zygote answers ``{"pid": N}``, forwards the kernel's output as
``{"out": TEXT}`` lines and ends with ``{"exit": CODE, "signal": SIG}``. When
the requester closes the connection (it died, or it is done with the kernel)
the kernel's process group is killed. One kernel process per experiment, as
before: only the imports are shared (copy-on-write pages). A requester that
does not share the zygote's pid namespace signals its kernel with
``{"signal": "SIGINT"}`` lines on the same connection (SIGINT, SIGTERM or
SIGKILL; only that kernel).

In a Docker experiment container (``--container``) the zygote is the
container's own: the host, which serves the experiment's sessions, asks it for
the kernel through its socket in the experiment volume. It forks kernels only
(no registry, no checks): its requesters are the host and the experiment's own
code, which gains nothing it does not have.

Sandboxed experiments (the local runtime under bubblewrap, root host): the
host (and only the host: the main socket is its own, mode 0600 in its private
temp dir) registers each experiment with ``{"op": "register", "id": ID,
"uid": U, "gid": G}`` and gets a socket of that experiment alone, which it
binds into that experiment's sandbox; ``{"op": "attach", "id": ID, "pid":
BWRAP_PID}`` names the sandbox, ``{"op": "revoke", "id": ID}`` ends it (socket
gone, kernels killed), and ``{"op": "fork", "id": ID, "argv": ..., "cwd": ...,
"env": ...}`` forks a kernel into it for the host itself (a session the host
serves without a node process in the sandbox; the answer's pid is the host's). A kernel request on an experiment's socket is forked
*into that experiment's sandbox* (:mod:`peragus_pysd.nsjoin`: its pid, mount,
net, IPC, UTS and cgroup namespaces, uid/gid, no capabilities,
no_new_privs), whatever the request says; its cwd is entered inside the
sandbox, as the experiment user. Nothing but kernels is served there.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys

from . import nsjoin
from .zygote_child import check_imports, isolate, kernel_imports, shared_imports  # noqa: F401  (isolate: the seam)
from .zygote_server import Zygote, listen_private


def fork_check_server(path: str, imports: bool) -> int:
    """Forks the check server: a copy of this zygote after :func:`shared_imports`, which forks
    each model check into the sandbox registered for it. ``imports``: the check server imports
    :func:`check_imports` itself (else this zygote already did). Its socket is bound before the
    fork, so the host may register a check at once (answered once the check server serves).
    Returns its pid (0: it could not be forked)."""
    server = listen_private(path)
    zygote = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:
        server.close()
        os.unlink(path)
        return 0
    if pid:
        server.close()
        return pid
    code = 1
    try:
        nsjoin.die_with_parent(signal.SIGTERM)
        if os.getppid() != zygote:
            os._exit(0)  # the zygote is already gone
        # Its stdout is the zygote's, which the host reads for "ready": never written here.
        sys.stdout = sys.stderr
        if imports:
            check_imports()
        # Without a collection first (≈ 0.05 s on the plan's critical path): a check's fork
        # lives for one check, so only what is frozen here needs to stay uncopied.
        gc.freeze()
        gc.enable()
        checks = Zygote(path, zygote, roles=("check",), server=server)
        signal.signal(signal.SIGTERM, lambda *_: (checks.shutdown(), os._exit(0)))
        checks.serve()
        code = 0
    except BaseException:  # noqa: BLE001 - say why, never return into the zygote's code
        import traceback  # noqa: PLC0415

        traceback.print_exc()
    finally:
        os._exit(code)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m peragus_pysd.zygote")
    parser.add_argument("--socket", required=True)
    parser.add_argument(
        "--checks",
        help="also fork a check server for model checks, listening on this socket (printed as 'checks' when bound)",
    )
    parser.add_argument(
        "--checks-first",
        action="store_true",
        help="import what checks need (and fork the check server) before what kernels need; "
        "for a host that checks one plan (peragus run): no warm-up translation for later checks",
    )
    parser.add_argument(
        "--container",
        action="store_true",
        help="the zygote of one experiment container: forks that container's kernels only (no sandbox registry)",
    )
    args = parser.parse_args()
    owner = int(os.environ.get("PERAGUS_PARENT_PID") or 0)
    # The imports below are the plan's critical path: the collector stays off for them (this
    # package's __init__ turned it off for `-m peragus_pysd.zygote`; ≈ 0.17 of the ≈ 1.2 CPU-s
    # before the check server serves), until the heap is frozen, and is on again before
    # anything is forked to run a check or a kernel.
    gc.disable()
    shared_imports()
    check_server = 0
    if args.checks:
        if args.checks_first:
            # One plan's check, then kernels: the warm-up translation would only speed up later
            # checks (≈ 0.1 s on the plan's path when its model is already translated).
            check_imports(warm=False)
        check_server = fork_check_server(args.checks, imports=not args.checks_first)
    if check_server:
        sys.stdout.write("checks\n")
        sys.stdout.flush()
    kernel_imports()
    # Every object imported so far goes to a permanent generation: a forked kernel's
    # collections never walk them, so they stay shared with this process instead of
    # being copied page by page (an LHS-200 kernel: ≈ 6,600 fewer page copies, ≈ 26 MB).
    # Without a collection first: it walked all ≈ 125,000 objects (≈ 0.18 CPU-s before the
    # zygote is ready) to free ≈ 5,000 left by the imports, which no fork ever touches.
    gc.freeze()
    gc.enable()
    zygote = Zygote(args.socket, owner, check_server=check_server, kernels_only=args.container)
    signal.signal(signal.SIGTERM, lambda *_: (zygote.shutdown(), os._exit(0)))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        zygote.serve()
    except KeyboardInterrupt:
        zygote.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
