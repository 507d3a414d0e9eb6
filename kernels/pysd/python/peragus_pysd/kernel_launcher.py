"""Start an ipykernel with PySD already imported (used by the Peragus kernelspec).

Importing here, before the kernel binds its sockets, is what makes a pooled
kernel "warm": the first cell that uses pysd pays nothing.
"""

import gc
import os
import sys
import threading
import time
from typing import Any

# `%matplotlib inline` by default: plt.show() (or a figure left open) is drawn in
# the notebook. Only the backend name is set here, through the environment
# matplotlib reads when it is first imported: an experiment that never plots
# never pays matplotlib's import (~0.15 CPU-s).
INLINE = "module://matplotlib_inline.backend_inline"
os.environ["MPLBACKEND"] = os.environ.get("MPLBACKEND") or INLINE

# Our package first: it imports PySD with its rarely used imports deferred (deferred.py).
import peragus_pysd  # noqa: E402,F401  (warm import)
import pysd  # noqa: E402,F401  (warm import)


def _exit_with_parent() -> None:
    # ipykernel's own poller only notices re-parenting to pid 1; under a
    # subreaper (containers, test runners) the kernel would outlive its owner.
    parent = int(os.environ.get("PERAGUS_PARENT_PID") or 0)
    if parent <= 1:
        return

    # A kernel forked by the zygote (peragus_pysd.zygote) is the zygote's child:
    # then the owner is watched by pid instead of by parenthood.
    by_parenthood = os.getppid() == parent

    def owner_alive() -> bool:
        if by_parenthood:
            return os.getppid() == parent
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if not owner_alive():
                os._exit(1)

    threading.Thread(target=watch, name="peragus-parent-watch", daemon=True).start()


def _cap_file_size() -> None:
    # The local runtime cannot size the experiment volume; it caps what it
    # can: no single file written by experiment code may exceed the volume cap
    # (resources.disk). Python ignores SIGXFSZ, so a write past it raises
    # OSError(EFBIG, "File too large") in the cell.
    cap = int(os.environ.get("PERAGUS_DISK_CAP") or 0)
    if cap > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))


def _inline_backend() -> None:
    # A kernel forked by the zygote runs this module as the zygote imported it (with its
    # MPLBACKEND=Agg) and inherits matplotlib already imported with Agg: matplotlib reads the
    # environment only at import, so the kernel's backend is set here (pyplot is not imported
    # yet, nothing has been drawn).
    os.environ["MPLBACKEND"] = os.environ.get("MPLBACKEND") or INLINE
    mpl = sys.modules.get("matplotlib")
    if mpl is not None:
        mpl.use(os.environ["MPLBACKEND"])


# No SQLite history: one kernel per experiment never reads a past session's, and the
# database (and its saving thread) cost each start ≈ 0.03 CPU-s. In/Out still work.
NO_HISTORY = "--HistoryManager.enabled=False"


def kernelspec_config(argv: list[str]) -> Any:
    """What traitlets' parser makes of our kernelspec's own argv (NO_HISTORY -f FILE), else None.

    The parser builds an argparse parser over every configurable class on each start (≈ 6 ms
    of a forked kernel's ≈ 55 ms initialize); for the one argv our kernelspec passes, the
    result is this Config. Any other argv goes through the parser.
    """
    if len(argv) != 3 or argv[0] != NO_HISTORY or argv[1] != "-f" or argv[2].startswith("-"):
        return None
    from traitlets.config import Config  # noqa: PLC0415
    from traitlets.config.loader import DeferredConfigString  # noqa: PLC0415

    config = Config()
    config.HistoryManager.enabled = DeferredConfigString("False")
    config.IPKernelApp.connection_file = argv[2]
    return config


def _last_words() -> None:
    """A native crash (a segfault in a C extension) prints the Python stack to the kernel's real
    stderr, which the host keeps (the cell's KernelDied error, container_logs). Not to fd 2 itself:
    ipykernel's output capture made that a pipe whose reader dies with the process."""
    import faulthandler  # noqa: PLC0415

    real = getattr(sys.stderr, "_original_stdstream_copy", None)
    faulthandler.enable(file=real if isinstance(real, int) else sys.__stderr__, all_threads=False)


def kernel_app_class() -> Any:
    from ipykernel.kernelapp import IPKernelApp  # noqa: PLC0415

    class PeragusKernelApp(IPKernelApp):  # type: ignore[misc]
        """IPKernelApp that reads our kernelspec's argv without building a parser, and runs
        cells with the cyclic garbage collector on however the kernel started (a cold one has it
        off from its package's import, peragus_pysd/__init__.py; the zygote turns its own back
        on before it forks)."""

        def initialize(self, argv: list[str] | None = None) -> None:
            super().initialize(argv)
            _last_words()
            # What the start made stays out of every later collection, as in a kernel forked
            # by the zygote (which froze its heap before forking).
            gc.freeze()
            gc.enable()

        def log_connection_info(self) -> None:
            # ipykernel also prints a terminal user's Ctrl-C note and `--existing` hint: noise in
            # an experiment's log (container_logs), where no terminal is. Ports are still stored.
            handle = self.parent_handle
            self.parent_handle = 1
            try:
                super().log_connection_info()
            finally:
                self.parent_handle = handle

        def parse_command_line(self, argv: list[str] | None = None) -> None:
            args = list(sys.argv[1:] if argv is None else argv)
            config = kernelspec_config(args)
            if config is None:
                super().parse_command_line(argv)
                return
            self.argv = args
            self.cli_config = config
            self.update_config(config)
            self.extra_args = []

    return PeragusKernelApp


def main(argv: list[str] | None = None) -> None:
    _inline_backend()
    _cap_file_size()
    if os.environ.get("PERAGUS_KERNEL_DEBUGGER") != "1":
        # Headless kernels are never debugged (kernelspec: "debugger": false);
        # hiding debugpy saves its import and its frozen-modules warnings.
        sys.modules["debugpy"] = None  # type: ignore[assignment]

    _exit_with_parent()
    kernel_app_class().launch_instance(
        argv=[NO_HISTORY, *(sys.argv[1:] if argv is None else argv)],
        exec_lines=[
            "import pysd",
            "import peragus_pysd",
        ],
    )


if __name__ == "__main__":
    main()
