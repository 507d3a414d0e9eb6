"""Start an ipykernel with PySD already imported (used by the Peragus kernelspec).

Importing here, before the kernel binds its sockets, is what makes a pooled
kernel "warm": the first cell that uses pysd pays nothing.
"""

import os
import sys
import threading
import time

import matplotlib

matplotlib.use("Agg")

import pysd  # noqa: E402,F401  (warm import)

import peragus_pysd  # noqa: E402,F401  (warm import)


def _exit_with_parent() -> None:
    # ipykernel's own poller only notices re-parenting to pid 1; under a
    # subreaper (containers, test runners) the kernel would outlive its owner.
    parent = int(os.environ.get("PERAGUS_PARENT_PID") or 0)
    if parent <= 1:
        return

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
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


def main() -> None:
    _cap_file_size()
    if os.environ.get("PERAGUS_KERNEL_DEBUGGER") != "1":
        # Headless kernels are never debugged (kernelspec: "debugger": false);
        # hiding debugpy saves its import and its frozen-modules warnings.
        sys.modules["debugpy"] = None  # type: ignore[assignment]

    from ipykernel.kernelapp import IPKernelApp

    _exit_with_parent()
    IPKernelApp.launch_instance(
        argv=sys.argv[1:],
        exec_lines=[
            "import matplotlib; matplotlib.use('Agg')",
            "import pysd",
            "import peragus_pysd",
        ],
    )


if __name__ == "__main__":
    main()
