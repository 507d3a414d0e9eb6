"""The zygote's side of sandboxed experiments: their sockets and the kernels forked into their sandboxes.

An :class:`Experiment` is what the trusted host registered: an id, the
experiment user, a listening socket that only that experiment's sandbox has
(the host binds it in), and, once attached, the bubblewrap pid whose
namespaces a kernel joins. :func:`fork_kernel` forks once, while the zygote's
children go to the sandbox's pid namespace: the child joins the rest of the
sandbox, drops to the experiment user and only then runs the kernel. (It
forked twice before, a waiter outside and the kernel inside: each fork of the
zygote copies its page tables, ≈ 8 ms of CPU, and the waiter's exit as much
again.)
"""

from __future__ import annotations

import os
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
    # outer_pid is the sandbox's init itself (a Docker container's), not bubblewrap's pid.
    init: bool = False
    # Kernels join the init's cgroups (a Docker container's caps).
    cgroups: bool = False
    # Kernels add the filter of seccomp.py (a Docker container's default profile, restored).
    seccomp: bool = False
    # "kernel": the socket serves kernel requests; "check": one model check (a sandbox made for it alone).
    role: str = "kernel"
    # A check's socket forks once: the code of the model it checks cannot ask for more.
    used: bool = False
    sandbox: nsjoin.Sandbox | None = None
    # Kernel requests that arrived before the host attached the sandbox (answered on attach).
    waiting: list[tuple[socket.socket, dict[str, Any]]] = field(default_factory=list)

    def open_sandbox(self) -> nsjoin.Sandbox:
        if self.sandbox is None:
            if self.outer_pid <= 0:
                raise nsjoin.SandboxError(f"experiment {self.id} has no sandbox attached yet")
            self.sandbox = nsjoin.open_sandbox(
                self.outer_pid, self.uid, self.gid, self.init, self.cgroups, self.seccomp
            )
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


def listen_for(exp_id: str, directory: str, index: int, uid: int, gid: int, role: str = "kernel") -> Experiment:
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
    return Experiment(id=exp_id, path=path, server=server, uid=uid, gid=gid, role=role)


def peer_pid(conn: socket.socket) -> int:
    pid, _uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return pid


def check_request(exp: Experiment, conn: socket.socket, request: dict[str, Any]) -> nsjoin.Sandbox:
    """The sandbox a kernel request on this experiment's socket gets; raises when it must be refused."""
    if "task" in request or "op" in request:
        raise nsjoin.SandboxError("an experiment's socket serves kernels only")
    # A check's socket forks one model check; an experiment's forks kernels: never the other.
    if (exp.role == "check") != isinstance(request.get("check"), dict):
        raise nsjoin.SandboxError(
            "a model check's socket serves that check only" if exp.role == "check" else "an experiment's socket serves kernels only"
        )
    if exp.role == "check" and exp.used:
        raise nsjoin.SandboxError("this model check was already forked")
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
) -> tuple[int, int, int]:
    """Forks a kernel into the sandbox: one fork, made while this process's children go to the
    sandbox's pid namespace (restored right after). Returns (kernel pid on this host, its pid
    inside the sandbox, output pipe); raises SandboxError if it could not fork."""
    if sandbox.users:
        return _fork_in_user_namespace(sandbox, request, run_kernel)
    out_r, out_w = os.pipe()
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        nsjoin.enter_pid_namespace(sandbox)
        try:
            pid = os.fork()
            if pid == 0:
                _kernel_child(sandbox, request, run_kernel, out_w)  # never returns
        finally:
            _restore_pid_namespace(own)
    except OSError as exc:
        os.close(out_r)
        os.close(out_w)
        raise nsjoin.SandboxError(f"the kernel could not be forked into the sandbox: {exc}") from exc
    finally:
        os.close(own)
    os.close(out_w)
    return pid, _ns_pid(pid), out_r


def _fork_in_user_namespace(
    sandbox: nsjoin.Sandbox,
    request: dict[str, Any],
    run_kernel: Callable[[dict[str, Any], int, list[int]], None],
) -> tuple[int, int, int]:
    """fork_kernel for a sandbox in user namespaces of its own (a host that is not root): a helper
    joins the sandbox's outer user namespace and its pid namespace for children (this process
    could not, and would never leave the user namespace again), clones the kernel as this
    process's own child, reports its pid and exits. Two forks instead of one (≈ 2 ms here)."""
    out_r, out_w = os.pipe()
    pid_r, pid_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        helper = os.fork()
    except OSError as exc:
        for fd in (out_r, out_w, pid_r, pid_w):
            os.close(fd)
        raise nsjoin.SandboxError(f"the kernel could not be forked into the sandbox: {exc}") from exc
    if helper == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.close(out_r)
            os.close(pid_r)
            nsjoin.enter_outer_user_namespace(sandbox)
            nsjoin.enter_pid_namespace(sandbox)
            kernel = nsjoin.clone_sibling()
            if kernel == 0:
                os.close(pid_w)
                _kernel_child(sandbox, request, run_kernel, out_w)  # never returns
            os.write(pid_w, str(kernel).encode())
            os._exit(0)
        except BaseException:  # noqa: BLE001 - say why on the kernel's output, and stop
            try:
                os.write(out_w, f"cannot enter the experiment's sandbox:\n{traceback.format_exc()}".encode())
            finally:
                os._exit(1)
    os.close(out_w)
    os.close(pid_w)
    _, status = os.waitpid(helper, 0)
    reported = os.read(pid_r, 32)
    os.close(pid_r)
    if status != 0 or not reported:
        why = os.read(out_r, 4096).decode("utf-8", "replace").strip()
        os.close(out_r)
        raise nsjoin.SandboxError(f"the kernel could not be forked into the sandbox's user namespace: {why}")
    pid = int(reported)
    return pid, _ns_pid(pid), out_r


def _restore_pid_namespace(own: int) -> None:
    """The zygote's later children must be born in its own pid namespace again: checked, and
    the zygote stops rather than fork anything more into an experiment's namespace."""
    try:
        nsjoin.setns(own, nsjoin.CLONE_NEWPID)
        if os.readlink("/proc/self/ns/pid_for_children") == os.readlink("/proc/self/ns/pid"):
            return
    except OSError:
        pass
    sys.stderr.write("kernel zygote: cannot return to its own pid namespace; stopping\n")
    sys.stderr.flush()
    os._exit(70)


def _kernel_child(
    sandbox: nsjoin.Sandbox,
    request: dict[str, Any],
    run_kernel: Callable[[dict[str, Any], int, list[int]], None],
    out_w: int,
) -> None:
    """The kernel's process, inside the pid namespace: enters the rest of the sandbox, then runs
    the kernel. Never returns."""
    try:
        # The zygote's handler (its shutdown) must never run here.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _close_all_but({out_w, *sandbox.held_fds()})
        nsjoin.join_cgroups(sandbox.cgroups)
        nsjoin.enter(sandbox)
        nsjoin.die_with_parent(signal.SIGKILL)
        # The zygote is outside this pid namespace, so getppid() reads 0 while it lives; a child
        # it left before the line above was reparented to the sandbox's init and reads that.
        if os.getppid() != 0:
            os._exit(1)  # the zygote is already gone
    except BaseException:  # noqa: BLE001 - no experiment code ran; say why and stop
        try:
            os.write(out_w, f"cannot enter the experiment's sandbox:\n{traceback.format_exc()}".encode())
        finally:
            os._exit(1)
    run_kernel(request, out_w, [])
