"""Asks the kernel zygote for one model check, from inside the check's own sandbox.

``python -I -S check_client.py`` (standard library only: it starts in ≈ 10 ms,
where a cold check imports PySD for ≈ 1.5 CPU-s) reads the check's JSON request
on stdin, sends it on ``$PERAGUS_KERNEL_ZYGOTE`` (the socket the host registered
for this check alone, bound into the sandbox), writes the check's output to
stdout as it comes and exits with the check's exit code. The check itself is a
fork of the zygote that joins this sandbox (:func:`peragus_pysd.zygote_child.run_check`).

Exit 75 (EX_TEMPFAIL) means the zygote refused or was unreachable: the host then
runs the check cold, in a sandbox of its own.
"""

from __future__ import annotations

import json
import os
import socket
import sys

UNAVAILABLE = 75


def main() -> int:
    check = json.loads(sys.stdin.read())
    request = {"check": check, "cwd": os.getcwd(), "env": dict(os.environ)}
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(os.environ["PERAGUS_KERNEL_ZYGOTE"])
        conn.sendall((json.dumps(request) + "\n").encode())
    except (OSError, KeyError) as exc:
        sys.stderr.write(f"the kernel zygote is not reachable: {exc}\n")
        return UNAVAILABLE
    buf = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            sys.stderr.write("the kernel zygote closed the check's connection\n")
            return UNAVAILABLE
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            reply = json.loads(line)
            if "out" in reply:
                sys.stdout.write(str(reply["out"]))
                sys.stdout.flush()
            elif "error" in reply:
                sys.stderr.write(f"the kernel zygote refused the check: {reply['error']}\n")
                return UNAVAILABLE
            elif "exit" in reply:
                code = reply.get("exit")
                return code if isinstance(code, int) else 1


if __name__ == "__main__":
    sys.exit(main())
