"""A seccomp filter for a kernel forked into a Docker container by the shared zygote.

Docker gives each container's processes its default seccomp profile, evaluated against the
container's capabilities. The shared zygote's container has CAP_SYS_ADMIN and CAP_SYS_PTRACE
(it must enter other containers), so its profile allows what those capabilities unlock —
``unshare``, ``setns``, ``mount``, ``clone`` with namespace flags, ``bpf``, ``ptrace``, … — and a
kernel forked from it inherits that profile. Dropping the capabilities makes most of these fail
anyway, but not all: an unprivileged process may still make a user namespace. :func:`install`
stacks a filter that refuses exactly what the profile allowed only for those capabilities, so
the kernel's system calls are those of a process in an ordinary experiment container. Filters
stack and the strictest answer wins; this one is installed after no_new_privs, as the kernel
requires of an unprivileged process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

# Docker's default profile: what CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_SYS_CHROOT add (x86_64).
_DENIED_X86_64 = {
    "ptrace": 101, "syslog": 103, "pivot_root": 155, "chroot": 161, "mount": 165, "umount2": 166,
    "sethostname": 170, "setdomainname": 171, "quotactl": 179, "lookup_dcookie": 212,
    "unshare": 272, "perf_event_open": 298, "fanotify_init": 300, "name_to_handle_at": 303,
    "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "bpf": 321,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442,
    "quotactl_fd": 443,
}
_CLONE = 56
_CLONE3 = 435  # refused with ENOSYS, as Docker does: the C library falls back to clone
_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL_PROCESS = 0x7FFF0000, 0x80000000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2


def _errno(code: int) -> int:
    return 0x00050000 | code


def program() -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions (seccomp_data: nr at 0, arch at 4, args[0] at 16)."""
    denied = sorted(_DENIED_X86_64.values())
    prog: list[tuple[int, int, int, int]] = [
        (_LD_W_ABS, 0, 0, 4),
        (_JEQ, 1, 0, _AUDIT_ARCH_X86_64),
        (_RET, 0, 0, _KILL_PROCESS),
        (_LD_W_ABS, 0, 0, 0),
        (_JGE, 0, 1, _X32_SYSCALL_BIT),
        (_RET, 0, 0, _errno(errno.EPERM)),
    ]
    # One test per denied call; every match jumps to the EPERM return after them.
    n = len(denied)
    for i, nr in enumerate(denied):
        prog.append((_JEQ, n - i + 5, 0, nr))
    prog += [
        (_JEQ, 0, 1, _CLONE3),
        (_RET, 0, 0, _errno(errno.ENOSYS)),
        (_JEQ, 0, 2, _CLONE),
        (_LD_W_ABS, 0, 0, 16),
        (_JSET, 1, 0, _NAMESPACE_FLAGS),
        (_RET, 0, 0, _ALLOW),
        (_RET, 0, 0, _errno(errno.EPERM)),
    ]
    return prog


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def install() -> None:
    """Installs the filter in this process (and what it forks). Only on x86_64: elsewhere the
    kernel must not start (the host then gives each container its own zygote)."""
    if os.uname().machine != "x86_64":
        raise OSError(errno.ENOSYS, f"no seccomp filter for {os.uname().machine}")
    prog = program()
    raw = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    fprog = _Fprog(len(prog), raw)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {os.strerror(err)}")
