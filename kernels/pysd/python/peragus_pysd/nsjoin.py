"""Entering an experiment's sandbox from inside a forked process (the kernel zygote).

The local runtime sandboxes each experiment with bubblewrap (new mount, pid,
IPC, UTS, net and cgroup namespaces, a read-only system, only the work dir
writable, uid 10001 without capabilities under a root host). A kernel forked by
the zygote joins *that* sandbox: :func:`open_sandbox` pins the namespaces of
the sandbox's first process (found from the bubblewrap pid the trusted host
registered), :func:`enter_pid_namespace` makes the next fork land in its pid
namespace, and :func:`enter` joins the others and drops to the experiment user
exactly as ``setpriv --reuid --regid --clear-groups --no-new-privs
--inh-caps=-all --bounding-set=-all`` does. Python 3.11 has no os.setns: ctypes.

Under a host that is not root, bubblewrap makes the sandbox in user namespaces of
its own (the host's user owns them): a kernel then joins those first (the outer
one, which owns the sandbox's other namespaces, before them; the sandbox's own
last), keeps the host's uid (mapped to itself inside) and drops every capability
its user namespace gave it. The zygote cannot join the pid namespace for its
children itself there (that needs its own user namespace's CAP_SYS_ADMIN), so
zygote_sandbox forks a helper that does and clones the kernel as the zygote's
child (:func:`clone_sibling`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
CLONE_PARENT = 0x00008000
SIGCHLD = 17
SYS_CLONE = 56  # x86_64
NS_GET_PARENT = 0xB702  # _IO(0xb7, 0x2)

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Joined in this order; the mount namespace last (it changes the root and cwd).
NAMESPACES = (("net", CLONE_NEWNET), ("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS), ("cgroup", CLONE_NEWCGROUP))

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


class SandboxError(RuntimeError):
    """The sandbox cannot be found or entered; the kernel must not start."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(err)}")


def _prctl(option: int, arg: int, arg3: int = 0) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(arg3), 0, 0), f"prctl({option})")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), f"setns({nstype:#x})")


@dataclass
class Sandbox:
    """The pinned namespaces of one experiment's sandbox and the user its processes run as."""

    init_pid: int
    fds: dict[str, int]
    uid: int
    gid: int
    # The cgroup.procs files of the sandbox's cgroups, when a kernel joins them too (a Docker
    # container's: its memory, CPU, pids and device caps); empty when the sandbox has none of its own.
    cgroups: list[str] = field(default_factory=list)
    # The kernel adds the filter of seccomp.py (a Docker container's: see there why).
    seccomp: bool = False
    # The user namespaces between this process's and the sandbox's, outermost first (empty when
    # the sandbox has none of its own: a root host's, a Docker container's).
    users: list[int] = field(default_factory=list)

    def held_fds(self) -> list[int]:
        """Every descriptor it holds open (its namespaces'), which a forked kernel keeps until it joins."""
        return [*self.fds.values(), *self.users]

    def close(self) -> None:
        for fd in self.held_fds():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = {}
        self.users = []


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _ns_id(pid: int | str, name: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{name}")


def cgroup_procs_of(pid: int, root: str = "/sys/fs/cgroup") -> list[str]:
    """The cgroup.procs file of each cgroup process ``pid`` is in (v1: one per hierarchy; v2: one)."""
    files: list[str] = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _hid, controllers, path = line.rstrip("\n").split(":", 2)
            name = controllers.removeprefix("name=") if controllers else ""
            procs = os.path.join(root, name, path.lstrip("/"), "cgroup.procs") if name else os.path.join(root, path.lstrip("/"), "cgroup.procs")
            if os.path.exists(procs):
                files.append(procs)
    if not files:
        raise SandboxError(f"the cgroups of process {pid} are not visible under {root}")
    return files


def join_cgroups(files: list[str]) -> None:
    """Moves this process into those cgroups (before it enters the sandbox's namespaces): its
    caps are then the sandbox's. Any failure stops the kernel: it never runs uncapped."""
    for procs in files:
        try:
            with open(procs, "w") as f:
                f.write("0")
        except OSError as exc:
            raise SandboxError(f"cannot join the sandbox's cgroup {os.path.dirname(procs)}: {exc}") from exc


def open_sandbox(
    outer_pid: int, uid: int, gid: int, init: bool = False, cgroups: bool = False, seccomp: bool = False
) -> Sandbox:
    """Pins the namespaces of the sandbox that bubblewrap (pid ``outer_pid``, in our namespaces) made;
    with ``init``, of the process ``outer_pid`` itself (a Docker container's init, seen from a
    zygote in the host's pid namespace). With ``cgroups``, a kernel also joins that process's cgroups."""
    if init:
        kids = [outer_pid] if os.path.exists(f"/proc/{outer_pid}") else []
    else:
        kids = _children(outer_pid)
    if not kids:
        raise SandboxError(f"the sandbox of pid {outer_pid} has no process inside (it has not started or has ended)")
    init_pid = kids[0]
    sandbox = _pin(outer_pid, init_pid, uid, gid, init, cgroups)
    sandbox.seccomp = seccomp
    return sandbox


def _same_ns(a: int, b: os.stat_result) -> bool:
    st = os.fstat(a)
    return (st.st_dev, st.st_ino) == (b.st_dev, b.st_ino)


def _user_chain(init: int) -> list[int]:
    """The user namespaces from the one below ours down to the sandbox's, outermost first."""
    own = os.stat("/proc/self/ns/user")
    fd = os.open(f"/proc/{init}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    if _same_ns(fd, own):
        os.close(fd)
        return []
    chain = [fd]
    try:
        while True:
            if len(chain) > 8:
                raise SandboxError(f"the sandbox of process {init} is nested too deep in user namespaces")
            try:
                parent = fcntl.ioctl(chain[-1], NS_GET_PARENT)
            except OSError as exc:
                raise SandboxError(f"the user namespace of process {init} is not below this one: {exc}") from exc
            if _same_ns(parent, own):
                os.close(parent)
                return list(reversed(chain))
            chain.append(parent)
    except BaseException:
        for f in chain:
            os.close(f)
        raise


def _pin(outer_pid: int, init: int, uid: int, gid: int, is_init: bool, cgroups: bool) -> Sandbox:
    for name in ("mnt", "pid", "net"):
        if _ns_id(init, name) == _ns_id("self", name):
            raise SandboxError(f"process {init} shares this process's {name} namespace: it is not a sandbox")
    fds: dict[str, int] = {}
    users: list[int] = []
    try:
        for name in ("pid", "mnt", *(n for n, _ in NAMESPACES)):
            path = f"/proc/{init}/ns/{name}"
            if os.path.exists(path):
                fds[name] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        # The pid may have been reused between listing and opening: still a child of bwrap (still
        # a process in the namespaces just pinned)?
        if not is_init and init not in _children(outer_pid):
            raise SandboxError(f"the sandbox of pid {outer_pid} ended while it was being opened")
        if is_init and os.stat(f"/proc/{init}/ns/mnt").st_ino != os.fstat(fds["mnt"]).st_ino:
            raise SandboxError(f"the sandbox of pid {outer_pid} ended while it was being opened")
        groups = cgroup_procs_of(init) if cgroups else []
        users = _user_chain(init)
        # Only a sandbox of this host's user: a kernel keeps the host's uid, mapped to itself.
        if users and uid != os.geteuid():
            raise SandboxError(f"a sandbox in a user namespace runs kernels as this user ({os.geteuid()}), not {uid}")
    except BaseException:
        for fd in [*fds.values(), *users]:
            os.close(fd)
        raise
    return Sandbox(init_pid=init, fds=fds, uid=uid, gid=gid, cgroups=groups, users=users)


def same_sandbox(peer_pid: int, sandbox: Sandbox) -> bool:
    """Whether ``peer_pid`` runs in the sandbox's mount, pid and net namespaces."""
    try:
        return all(
            os.stat(f"/proc/{peer_pid}/ns/{name}").st_ino == os.fstat(sandbox.fds[name]).st_ino
            for name in ("mnt", "pid", "net")
        )
    except (OSError, KeyError):
        return False


def enter_pid_namespace(sandbox: Sandbox) -> None:
    """The next fork of this process starts in the sandbox's pid namespace."""
    setns(sandbox.fds["pid"], CLONE_NEWPID)


def enter_outer_user_namespace(sandbox: Sandbox) -> None:
    """Joins the user namespace that owns the sandbox's others (a process never leaves it again)."""
    setns(sandbox.users[0], CLONE_NEWUSER)


def clone_sibling() -> int:
    """fork(), but the child's parent is this process's parent (CLONE_PARENT): a helper in the
    sandbox's user namespace makes the kernel the zygote's own child. Returns 0 in the child."""
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = _libc.syscall(SYS_CLONE, ctypes.c_ulong(CLONE_PARENT | SIGCHLD), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if pid == 0:
        api.PyOS_AfterFork_Child()
        return 0
    err = ctypes.get_errno()
    api.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return int(pid)


def _drop_capabilities_and_user(uid: int | None, gid: int | None) -> None:
    """Drops every capability; with a uid, becomes that user too (a root zygote's kernel). Without,
    keeps its uid (in a user namespace, where joining gave it every capability there)."""
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    if uid is not None and gid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    # A uid change from root clears the permitted and effective sets; clear all three anyway.
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    # Like a process exec'd as the user (the cold path): its own /proc/self files are its own.
    # Its memory holds only what the zygote had: allow-listed environment, imported modules.
    _prctl(PR_SET_DUMPABLE, 1)


def enter(sandbox: Sandbox) -> None:
    """In a process already in the sandbox's pid namespace: join the rest and become the experiment user."""
    for name, flag in NAMESPACES:
        if name in sandbox.fds:
            setns(sandbox.fds[name], flag)
    setns(sandbox.fds["mnt"], CLONE_NEWNS)
    # The sandbox's own user namespace last (the outer one was joined before the pid namespace).
    for fd in sandbox.users[1:]:
        setns(fd, CLONE_NEWUSER)
    in_user_namespace = bool(sandbox.users)
    sandbox.close()
    os.chdir("/")
    if in_user_namespace:
        _drop_capabilities_and_user(None, None)
    elif os.geteuid() == 0 and sandbox.uid != 0:
        _drop_capabilities_and_user(sandbox.uid, sandbox.gid)
    else:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if sandbox.seccomp:
        from . import seccomp  # noqa: PLC0415

        try:
            seccomp.install()
        except OSError as exc:
            raise SandboxError(str(exc)) from exc


def die_with_parent(signal_number: int) -> None:
    _prctl(PR_SET_PDEATHSIG, signal_number)
