"""The kernel zygote reports a child's exit as soon as it can be reaped
(peragus_pysd.zygote_server): a child's output closes a moment before it becomes a zombie, and
the server's loop used to find it only at its next 0.1 s tick (a plan's model check waited for it)."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import socket
import tempfile
import time
import unittest

from peragus_pysd.zygote_server import Kernel, Zygote


class ZygoteReportsExitsPromptly(unittest.TestCase):
    def setUp(self) -> None:
        folder = tempfile.mkdtemp(prefix="peragus-zygote-exit-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        self.zygote = Zygote(os.path.join(folder, "z.sock"), owner=0)
        self.addCleanup(self.zygote.sel.close)
        self.addCleanup(self.zygote.server.close)
        # Every wait of the loop, as it asks for it.
        self.waits: list[float] = []
        select = self.zygote.sel.select

        def recording(timeout: float | None = None):  # type: ignore[no-untyped-def]
            self.waits.append(float(timeout or 0))
            return select(timeout)

        self.zygote.sel.select = recording  # type: ignore[method-assign]

    def child(self, code: int, linger: float) -> tuple[socket.socket, Kernel]:
        """A real child on an output pipe, registered as the server registers a forked kernel:
        it writes a line, closes its output, waits ``linger`` seconds and exits with ``code``."""
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(out_r)
            os.write(out_w, b"hello\n")
            os.close(out_w)
            time.sleep(linger)
            os._exit(code)
        os.close(out_w)
        ours, theirs = socket.socketpair()
        self.addCleanup(ours.close)
        kernel = Kernel(theirs, pid, out_r)
        self.zygote.kernels[pid] = kernel
        self.zygote.sel.register(theirs, selectors.EVENT_READ, ("conn", kernel))
        self.zygote.sel.register(out_r, selectors.EVENT_READ, ("out", kernel))
        return ours, kernel

    def run_until_exit(self, ours: socket.socket) -> list[dict]:
        ours.setblocking(False)
        said: list[dict] = []
        buf = b""
        for _ in range(2_000):
            self.assertTrue(self.zygote.step())
            try:
                buf += ours.recv(65536)
            except BlockingIOError:
                pass
            said = [json.loads(line) for line in buf.decode().splitlines()]
            if any("exit" in m for m in said):
                return said
        self.fail(f"no exit reported; the server said {said}")

    def test_the_exit_is_waited_for_in_milliseconds_once_the_output_closed(self) -> None:
        ours, kernel = self.child(code=3, linger=0.05)
        said = self.run_until_exit(ours)
        self.assertEqual(said[0], {"out": "hello\n"})
        self.assertEqual(said[-1], {"exit": 3, "signal": None})
        self.assertGreater(kernel.eof_at, 0)
        # Until the output closed the loop slept up to its 0.1 s tick; from then on (the child
        # lingers 50 ms) never more than 5 ms.
        last_tick = max((i for i, w in enumerate(self.waits) if w == 0.1), default=-1)
        after = self.waits[last_tick + 1 :]
        self.assertTrue(after, f"the loop slept a full tick after the output closed: {self.waits}")
        self.assertEqual(set(after), {0.005}, self.waits)

    def test_a_child_that_closed_its_output_and_runs_on_is_not_polled_for_ever(self) -> None:
        _, kernel = self.child(code=0, linger=5.0)
        self.addCleanup(lambda: (os.kill(kernel.pid, 9), os.waitpid(kernel.pid, 0)))
        while kernel.eof_at == 0:
            self.zygote.step()
        self.assertEqual(self.zygote._tick(), 0.005)
        kernel.eof_at -= 1.5  # its output closed longer than a second ago
        self.assertEqual(self.zygote._tick(), 0.1)


if __name__ == "__main__":
    unittest.main()
