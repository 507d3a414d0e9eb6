"""The kernel zygote's warm state (peragus_pysd.zygote_child): what every forked kernel would
otherwise pay again is paid once in the zygote. Each case runs in a fresh Python."""

from __future__ import annotations

import shutil
import tempfile
import unittest

from helpers import fresh_python


class ZygoteWarmsMatplotlib(unittest.TestCase):
    """A kernel forked by the zygote names the inline backend (kernel_launcher._inline_backend):
    matplotlib must not read every distribution's entry points again in each kernel."""

    def test_a_forked_kernel_sets_the_inline_backend_without_reading_entry_points(self) -> None:
        folder = tempfile.mkdtemp(prefix="peragus-zygote-mpl-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        out = fresh_python(
            """
            import json, os, sys
            from peragus_pysd import zygote_child
            zygote_child.shared_imports()
            zygote_child.kernel_imports()
            pid = os.fork()
            if pid == 0:  # as a kernel: what kernel_launcher.main does first
                os.environ.pop("MPLBACKEND", None)  # a kernel not told otherwise plots inline
                opened = []
                sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
                from peragus_pysd import kernel_launcher
                kernel_launcher._inline_backend()
                import matplotlib
                with open("child.json", "w") as f:
                    json.dump({
                        "metadata": [p for p in opened if ".dist-info" in p or "entry_points" in p],
                        "backend": matplotlib.get_backend(),
                    }, f)
                os._exit(0)
            os.waitpid(pid, 0)
            print(open("child.json").read())
            """,
            folder,
        )
        self.assertEqual(out["metadata"], [])
        self.assertEqual(out["backend"], "module://matplotlib_inline.backend_inline")
