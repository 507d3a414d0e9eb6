"""The zygote's side of sandboxed experiments: their sockets and the kernels forked into their sandboxes.

An :class:`Experiment` is what the trusted host registered: an id, the
experiment user, a listening socket that only that experiment's sandbox has
(the host binds it in), and, once attached, the bubblewrap pid whose
namespaces a kernel joins. :func:`fork_kernel` forks twice: the first child
(outside, in the zygote's namespaces) joins the sandbox's pid namespace and
waits for the second, which joins the rest of the sandbox, drops to the
experiment user and only then runs the kernel.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from . import nsjoin


@dataclass
class Experiment:
    id: str
    path: str
    server: socket.socket
    uid: int
    gid: int
    outer_pid: int = 0
    sandbox: nsjoin.Sandbox | None = None
    # Kernel requests that arrived before the host attached the sandbox (answered on attach).
    waiting: list[tuple[socket.socket, dict[str, Any]]] = field(default_factory=list)

    def open_sandbox(self) -> nsjoin.Sandbox:
        if self.sandbox is None:
            if self.outer_pid <= 0:
                raise nsjoin.SandboxError(f"experiment {self.id} has no sandbox attached yet")
            self.sandbox = nsjoin.open_sandbox(self.outer_pid, self.uid, self.gid)
        return self.sandbox

    def close(self) -> None:
        for conn, _ in self.waiting:
            conn.close()
        self.waiting = []
        try:
            self.server.close()
        finally:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            if self.sandbox is not None:
                self.sandbox.close()
                self.sandbox = None


class NotAttached(Exception):
    """The host has not named the experiment's sandbox yet: the request waits for it."""


def listen_for(exp_id: str, directory: str, index: int, uid: int, gid: int) -> Experiment:
    """A fresh socket for one experiment, owned by its user (mode 0600) in the zygote's private dir."""
    path = os.path.join(directory, f"{index}.sock")
    if os.path.lexists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        server.bind(path)
    finally:
        os.umask(old)
    os.chown(path, uid, gid)
    server.listen(16)
    return Experiment(id=exp_id, path=path, server=server, uid=uid, gid=gid)


def peer_pid(conn: socket.socket) -> int:
    pid, _uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return pid


def check_request(exp: Experiment, conn: socket.socket, request: dict[str, Any]) -> nsjoin.Sandbox:
    """The sandbox a kernel request on this experiment's socket gets; raises when it must be refused."""
    if "task" in request or "op" in request:
        raise nsjoin.SandboxError("an experiment's socket serves kernels only")
    if exp.outer_pid <= 0:
        raise NotAttached()
    sandbox = exp.open_sandbox()
    if not nsjoin.same_sandbox(peer_pid(conn), sandbox):
        raise nsjoin.SandboxError(f"the request does not come from inside experiment {exp.id}'s sandbox")
    return sandbox


def _close_all_but(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _ns_pid(host_pid: int) -> int:
    with open(f"/proc/{host_pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return host_pid


def fork_kernel(
    sandbox: nsjoin.Sandbox,
    request: dict[str, Any],
    run_kernel: Callable[[dict[str, Any], int, list[int]], None],
) -> tuple[int, int, int, int]:
    """Forks a kernel into the sandbox. Returns (outer pid, kernel pid on this host,
    kernel pid inside the sandbox, output pipe); raises SandboxError if it could not start."""
    out_r, out_w = os.pipe()
    info_r, info_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    outer = os.fork()
    if outer == 0:
        _outer_child(sandbox, request, run_kernel, out_w, info_w)
    os.close(out_w)
    os.close(info_w)
    data = b""
    try:
        while select.select([info_r], [], [], 10.0)[0]:
            chunk = os.read(info_r, 256)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(info_r)
    parts = data.split()
    if len(parts) != 2:
        try:
            os.kill(outer, signal.SIGKILL)
        except OSError:
            pass
        msg = os.read(out_r, 65536).decode("utf-8", "replace") if select.select([out_r], [], [], 0)[0] else ""
        os.close(out_r)
        raise nsjoin.SandboxError(f"the kernel could not enter the sandbox: {msg.strip() or 'no report'}")
    return outer, int(parts[0]), int(parts[1]), out_r


def _outer_child(
    sandbox: nsjoin.Sandbox,
    request: dict[str, Any],
    run_kernel: Callable[[dict[str, Any], int, list[int]], None],
    out_w: int,
    info_w: int,
) -> None:
    """First child: stays outside, joins the pid namespace for its child, waits for it. Never returns."""
    code = 1
    try:
        _close_all_but({out_w, info_w, *sandbox.fds.values()})
        os.setsid()
        nsjoin.enter_pid_namespace(sandbox)
        life_r, life_w = os.pipe()
        inner = os.fork()
        if inner == 0:
            os.close(life_w)
            os.close(info_w)
            _inner_child(sandbox, request, run_kernel, out_w, life_r)
        os.close(life_r)
        os.close(out_w)
        out_w = -1
        sandbox.close()
        os.write(info_w, f"{inner} {_ns_pid(inner)}\n".encode())
        os.close(info_w)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: os.kill(inner, signal.SIGKILL))
        while True:
            try:
                _, status = os.waitpid(inner, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        if os.WIFSIGNALED(status):
            # End the way the kernel ended. SIGKILL (the OOM killer's, or the zygote's at revoke)
            # has no handler to reset, so setting one fails: that must not stop the mirror.
            sig = os.WTERMSIG(status)
            code = 128 + sig
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
            os.kill(os.getpid(), sig)
    except BaseException:  # noqa: BLE001 - report if we still can; never return into the zygote's loop
        if out_w >= 0:
            try:
                os.write(out_w, traceback.format_exc().encode())
            except OSError:
                pass
    finally:
        os._exit(code)


def _inner_child(
    sandbox: nsjoin.Sandbox,
    request: dict[str, Any],
    run_kernel: Callable[[dict[str, Any], int, list[int]], None],
    out_w: int,
    life_r: int,
) -> None:
    """Second child, inside the pid namespace: enters the sandbox, then runs the kernel. Never returns."""
    try:
        nsjoin.enter(sandbox)
        nsjoin.die_with_parent(signal.SIGKILL)
        if select.select([life_r], [], [], 0)[0]:
            os._exit(1)  # the outer child is already gone
        os.close(life_r)
    except BaseException:  # noqa: BLE001 - no experiment code ran; say why and stop
        try:
            os.write(out_w, f"cannot enter the experiment's sandbox:\n{traceback.format_exc()}".encode())
        finally:
            os._exit(1)
    run_kernel(request, out_w, [])
