"""The kernel zygote's server: the one process that forks kernels (and, in the check server,
model checks) on request, forwards their output and reaps them. Its protocol and the way it
starts are described in :mod:`peragus_pysd.zygote`, its entry point.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
from typing import Any

from . import nsjoin
from .zygote_child import run_check, run_kernel
from .zygote_sandbox import Experiment, NotAttached, check_request, fork_kernel, listen_for

READ_CHUNK = 65536
# What a requester may ask for its own kernel: an interrupt, a polite stop, a kill.
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


class Kernel:
    def __init__(self, conn: socket.socket, pid: int, out_r: int, exp: Experiment | None = None) -> None:
        self.conn = conn
        self.pid = pid
        # The experiment whose sandbox the kernel runs in (None: the host's own, unsandboxed).
        self.exp = exp
        self.out_r: int | None = out_r
        self.status: tuple[int | None, str | None] | None = None
        self.exited_at = 0.0
        # When its output closed (0: still open); it is exiting, or its code closed fds 1 and 2.
        self.eof_at = 0.0
        # A partial signal line from the requester (see Zygote._on_signal_lines).
        self.inbox = b""

    def send(self, obj: dict[str, Any]) -> None:
        try:
            self.conn.sendall((json.dumps(obj) + "\n").encode())
        except OSError:
            pass


class Zygote:
    def __init__(
        self,
        path: str,
        owner: int,
        roles: tuple[str, ...] = ("kernel", "check"),
        server: socket.socket | None = None,
        check_server: int = 0,
        kernels_only: bool = False,
    ) -> None:
        self.path = path
        # An experiment container's own zygote (--container): plain kernel forks, no registry.
        self.kernels_only = kernels_only
        self.owner = owner
        self.pid = os.getpid()
        # "kernel": forks kernels (on its main socket and registered experiments' sockets);
        # "check": forks model checks into sandboxes registered for them. The check server
        # (see main) serves checks only.
        self.roles = roles
        # The check server this zygote forked (its pid), stopped with it.
        self.check_server = check_server
        self.sel = selectors.DefaultSelector()
        self.kernels: dict[int, Kernel] = {}
        self.pending: dict[socket.socket, bytes] = {}
        # Sandboxed experiments the host registered, by id; their sockets live in a private dir.
        self.experiments: dict[str, Experiment] = {}
        self.conn_exp: dict[socket.socket, Experiment] = {}
        self.exp_dir = path + ".d"
        self.exp_count = 0
        self.server = server if server is not None else listen_private(path)
        self.sel.register(self.server, selectors.EVENT_READ, ("accept", None))

    def serve(self) -> None:
        while self.step():
            pass

    def step(self) -> bool:
        """One batch of events, then the children that exited; False once the owner is gone."""
        for key, _ in self.sel.select(timeout=self._tick()):
            # An earlier event of this batch may have closed this one's file (a revoke).
            if self.sel.get_map().get(key.fd) is not key:
                continue
            try:
                self._dispatch(*key.data)
            except Exception:  # noqa: BLE001 - one bad event never takes the zygote down
                import traceback  # noqa: PLC0415

                traceback.print_exc()
                if os.getpid() != self.pid:
                    # A forked child raised its way back here: it must never serve (or, at
                    # its owner check, shut down what is the zygote's: kernels, sockets).
                    os._exit(1)
        self._reap()
        if self.owner > 1 and os.getppid() != self.owner:
            self.shutdown()
            return False
        return True

    def _tick(self) -> float:
        """How long the loop may wait for an event. A child's output closes a moment before it can
        be reaped (its files are closed before it becomes a zombie): its exit is reported within
        milliseconds, not at the next 0.1 s tick (a model check's answer waited ≈ 0.1 s for it).
        For one second after the close: a child that closed its output itself and runs on costs a
        wake-up every 5 ms for that second only."""
        now = time.monotonic()
        if any(k.status is None and 0 < now - k.eof_at < 1.0 for k in self.kernels.values()):
            return 0.005
        return 0.1

    def _dispatch(self, kind: str, obj: Any) -> None:
        if kind == "accept":
            server = self.server if obj is None else obj.server
            try:
                conn, _ = server.accept()
            except OSError:
                return
            self.pending[conn] = b""
            if obj is not None:
                self.conn_exp[conn] = obj
            self.sel.register(conn, selectors.EVENT_READ, ("request", conn))
        elif kind == "request":
            self._on_request(obj)
        elif kind == "conn":
            self._on_conn(obj)
        elif kind == "out":
            self._on_out(obj)

    def _on_request(self, conn: socket.socket) -> None:
        try:
            chunk = conn.recv(READ_CHUNK)
        except OSError:
            chunk = b""
        if not chunk:
            self.sel.unregister(conn)
            self.pending.pop(conn, None)
            self.conn_exp.pop(conn, None)
            conn.close()
            return
        buf = self.pending[conn] + chunk
        if b"\n" not in buf:
            if len(buf) > 1 << 20:  # a request line never gets this long
                self.sel.unregister(conn)
                del self.pending[conn]
                self.conn_exp.pop(conn, None)
                self._refuse(conn, "bad request: no newline within 1 MiB")
                return
            self.pending[conn] = buf
            return
        self.sel.unregister(conn)
        del self.pending[conn]
        exp = self.conn_exp.pop(conn, None)
        line = buf.split(b"\n", 1)[0]
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("the request must be a JSON object")
        except ValueError as exc:
            self._refuse(conn, f"bad request: {exc}")
            return
        if exp is not None:
            self._serve_experiment(conn, exp, request)
        elif "task" in request or "check" in request:
            self._refuse(conn, "a model check is forked only into a sandbox registered for it (role \"check\")")
        elif self.kernels_only and "op" in request:
            self._refuse(conn, "this zygote (an experiment container's own) forks kernels only")
        elif request.get("op") == "fork":
            self._fork_for_host(conn, request)
        elif "op" in request:
            self._control(conn, request)
        elif "kernel" not in self.roles:
            self._refuse(conn, "the check server forks model checks only, never a kernel")
        else:
            self._fork(conn, request)

    def _serve_experiment(self, conn: socket.socket, exp: Experiment, request: dict[str, Any]) -> None:
        try:
            sandbox = check_request(exp, conn, request)
        except NotAttached:
            exp.waiting.append((conn, request))
            return
        except (nsjoin.SandboxError, OSError) as exc:
            self._refuse(conn, str(exc))
            return
        self._fork_sandboxed(conn, exp, sandbox, request)

    def _refuse(self, conn: socket.socket, message: str) -> None:
        try:
            conn.sendall((json.dumps({"error": message}) + "\n").encode())
        except OSError:
            pass
        conn.close()

    def _control(self, conn: socket.socket, request: dict[str, Any]) -> None:
        """The host's registry of sandboxed experiments (only the host reaches the main socket)."""
        op, exp_id = request.get("op"), str(request.get("id") or "")
        try:
            if op == "register":
                if exp_id in self.experiments:
                    raise ValueError(f"experiment {exp_id} is already registered")
                os.makedirs(self.exp_dir, mode=0o700, exist_ok=True)
                self.exp_count += 1
                role = str(request.get("role") or "kernel")
                if role not in ("kernel", "check"):
                    raise ValueError(f"unknown role {role!r}")
                if role not in self.roles:
                    raise ValueError(f"this socket registers {' and '.join(self.roles)} sandboxes only, not {role!r}")
                exp = listen_for(exp_id, self.exp_dir, self.exp_count, int(request["uid"]), int(request["gid"]), role)
                self.experiments[exp_id] = exp
                self.sel.register(exp.server, selectors.EVENT_READ, ("accept", exp))
                reply: dict[str, Any] = {"socket": exp.path}
            elif op == "attach":
                exp = self.experiments[exp_id]
                exp.outer_pid = int(request["pid"])
                exp.init = bool(request.get("init"))
                exp.cgroups = bool(request.get("cgroups"))
                exp.seccomp = bool(request.get("seccomp"))
                waiting, exp.waiting = exp.waiting, []
                for waiter, kernel_request in waiting:
                    self._serve_experiment(waiter, exp, kernel_request)
                reply = {"ok": True}
            elif op == "revoke":
                self._revoke(exp_id)
                reply = {"ok": True}
            elif op == "preload":
                # What a plan's experiment type imports, once here for every kernel forked after.
                from . import preload  # noqa: PLC0415

                try:
                    modules = preload.preload(request.get("experiment"))
                except Exception as exc:  # noqa: BLE001 - a failed import never ends the zygote
                    raise ValueError(f"cannot import what the experiment needs: {exc!r}") from exc
                reply = {"ok": True, "modules": modules}
                # Out of every later collection, like the rest of the zygote's heap (see main()).
                gc.freeze()
            else:
                raise ValueError(f"unknown op {op!r}")
        except (KeyError, ValueError, TypeError, OSError) as exc:
            reply = {"error": f"{op}: {exc!r}"}
        try:
            conn.sendall((json.dumps(reply) + "\n").encode())
        except OSError:
            pass
        conn.close()

    def _revoke(self, exp_id: str) -> None:
        exp = self.experiments.pop(exp_id, None)
        if exp is None:
            return
        try:
            self.sel.unregister(exp.server)
        except (KeyError, ValueError):
            pass
        for conn in [c for c, e in self.conn_exp.items() if e is exp]:
            self.conn_exp.pop(conn, None)
            self.pending.pop(conn, None)
            try:
                self.sel.unregister(conn)
            except (KeyError, ValueError):
                pass
            conn.close()
        for kernel in [k for k in self.kernels.values() if k.exp is exp]:
            self._kill(kernel)
        exp.close()

    def _fork_for_host(self, conn: socket.socket, request: dict[str, Any]) -> None:
        """A kernel the host asks for on behalf of a registered experiment (``{"op": "fork", "id":
        ID, "argv": ..., "cwd": ..., "env": ...}``, on the main socket, which only the host reaches):
        forked into that experiment's sandbox exactly as a request from inside it is. The host
        serves that experiment's session itself; the answer's pid is the kernel's on this host."""
        exp_id = str(request.get("id") or "")
        exp = self.experiments.get(exp_id)
        if "kernel" not in self.roles:
            self._refuse(conn, "the check server forks model checks only, never a kernel")
            return
        if exp is None or exp.role != "kernel":
            self._refuse(conn, f"fork: no experiment {exp_id!r} is registered for kernels")
            return
        try:
            sandbox = exp.open_sandbox()
        except (nsjoin.SandboxError, OSError) as exc:
            self._refuse(conn, f"fork: {exc}")
            return
        kernel_request = {k: request[k] for k in ("argv", "cwd", "env") if k in request}
        self._fork_sandboxed(conn, exp, sandbox, kernel_request, host=True)

    def _fork_sandboxed(
        self, conn: socket.socket, exp: Experiment, sandbox: nsjoin.Sandbox, request: dict[str, Any], host: bool = False
    ) -> None:
        try:
            pid, ns_pid, out_r = fork_kernel(sandbox, request, run_check if exp.role == "check" else run_kernel)
        except nsjoin.SandboxError as exc:
            self._refuse(conn, str(exc))
            return
        exp.used = True
        kernel = Kernel(conn, pid, out_r, exp=exp)
        self.kernels[pid] = kernel
        # A requester inside the sandbox signals the kernel by its pid in the sandbox's namespace;
        # the host, by its pid here.
        kernel.send({"pid": pid if host else ns_pid})
        self.sel.register(conn, selectors.EVENT_READ, ("conn", kernel))
        self.sel.register(out_r, selectors.EVENT_READ, ("out", kernel))

    def _fork(self, conn: socket.socket, request: dict[str, Any]) -> None:
        out_r, out_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                others = [self.server.fileno(), out_r, conn.fileno(), *(k.conn.fileno() for k in self.kernels.values())]
                others += [k.out_r for k in self.kernels.values() if k.out_r is not None]
                others += [c.fileno() for c in self.pending]
                for exp in self.experiments.values():
                    others += [exp.server.fileno(), *(exp.sandbox.held_fds() if exp.sandbox else ())]
                    others += [c.fileno() for c, _ in exp.waiting]
                run_kernel(request, out_w, others)
            finally:
                os._exit(1)  # run_kernel never returns; nor does this child if anything above raised
        os.close(out_w)
        kernel = Kernel(conn, pid, out_r)
        self.kernels[pid] = kernel
        kernel.send({"pid": pid})
        self.sel.register(conn, selectors.EVENT_READ, ("conn", kernel))
        self.sel.register(out_r, selectors.EVENT_READ, ("out", kernel))

    def _on_conn(self, kernel: Kernel) -> None:
        try:
            data = kernel.conn.recv(READ_CHUNK)
        except OSError:
            data = b""
        if data:
            self._on_signal_lines(kernel, data)
            return
        # The requester is gone or done: the kernel goes with it.
        self._kill(kernel)
        self._drop(kernel)

    def _on_signal_lines(self, kernel: Kernel, data: bytes) -> None:
        """``{"signal": "SIGINT"}`` lines: a requester outside this zygote's pid namespace (the
        host, for a kernel in a Docker container) cannot name the kernel's pid, so it asks here.
        Only the kernel this connection asked for is signalled, and only with SIGNALS."""
        kernel.inbox += data
        if len(kernel.inbox) > 1 << 16:  # a signal line is short: anything else is not one
            kernel.inbox = b""
            return
        *lines, kernel.inbox = kernel.inbox.split(b"\n")
        for line in lines:
            try:
                name = json.loads(line).get("signal")
            except (ValueError, AttributeError):
                continue
            if name in SIGNALS and kernel.status is None:
                try:
                    os.killpg(kernel.pid, SIGNALS[name])
                except OSError:
                    pass

    def _on_out(self, kernel: Kernel) -> None:
        assert kernel.out_r is not None
        try:
            data = os.read(kernel.out_r, READ_CHUNK)
        except OSError:
            data = b""
        if data:
            kernel.send({"out": data.decode("utf-8", "replace")})
            return
        self.sel.unregister(kernel.out_r)
        os.close(kernel.out_r)
        kernel.out_r = None
        kernel.eof_at = time.monotonic()
        self._finish(kernel)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
            kernel = self.kernels.get(pid)
            if kernel is None:
                continue
            if os.WIFSIGNALED(status):
                kernel.status = (None, signal.Signals(os.WTERMSIG(status)).name)
            else:
                kernel.status = (os.waitstatus_to_exitcode(status), None)
            kernel.exited_at = time.monotonic()
            self._finish(kernel)
        # Output pipes held open by the kernel's own children must not delay the exit report.
        for kernel in list(self.kernels.values()):
            if kernel.status is not None and kernel.out_r is not None and time.monotonic() - kernel.exited_at > 0.2:
                self.sel.unregister(kernel.out_r)
                os.close(kernel.out_r)
                kernel.out_r = None
                self._finish(kernel)

    def _finish(self, kernel: Kernel) -> None:
        if kernel.status is None or kernel.out_r is not None:
            return
        code, sig = kernel.status
        kernel.send({"exit": code, "signal": sig})
        self._drop(kernel)

    def _kill(self, kernel: Kernel) -> None:
        if kernel.status is not None:
            return
        for target in (lambda: os.killpg(kernel.pid, signal.SIGKILL), lambda: os.kill(kernel.pid, signal.SIGKILL)):
            try:
                target()
                return
            except OSError:
                continue

    def _drop(self, kernel: Kernel) -> None:
        if kernel.out_r is not None:
            self.sel.unregister(kernel.out_r)
            os.close(kernel.out_r)
            kernel.out_r = None
        try:
            self.sel.unregister(kernel.conn)
        except (KeyError, ValueError):
            pass
        kernel.conn.close()
        if kernel.status is None:
            # Killed on disconnect: still reaped by _reap (kept until then).
            kernel.conn = _Closed()  # type: ignore[assignment]
            return
        self.kernels.pop(kernel.pid, None)

    def shutdown(self) -> None:
        if self.check_server > 0:
            try:
                os.kill(self.check_server, signal.SIGTERM)
            except OSError:
                pass
        for kernel in list(self.kernels.values()):
            self._kill(kernel)
        for exp_id in list(self.experiments):
            self._revoke(exp_id)
        try:
            os.unlink(self.path)
        except OSError:
            pass
        try:
            os.rmdir(self.exp_dir)
        except OSError:
            pass


class _Closed:
    """Stands in for a closed connection of a kernel that is still being reaped."""

    def sendall(self, _data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    def fileno(self) -> int:
        return -1


def listen_private(path: str) -> socket.socket:
    """A listening Unix socket at ``path``, made under umask 077 (mode 0700): only this zygote's
    host (its user) connects."""
    old = os.umask(0o077)
    try:
        if os.path.exists(path):
            os.unlink(path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
    finally:
        os.umask(old)
    server.listen(64)
    return server
