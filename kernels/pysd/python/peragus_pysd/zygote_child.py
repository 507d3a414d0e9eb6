"""What a child of the kernel zygote does: the imports the zygote pays once
(:func:`shared_imports`, :func:`kernel_imports`; its check server's :func:`check_imports`), the experiment's own session, environment and stdio
(:func:`isolate`), then the kernel (:func:`run_kernel`).
A sandboxed experiment's child has already joined its sandbox
(:mod:`peragus_pysd.zygote_sandbox`) when :func:`run_kernel` starts.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any


def shared_imports() -> None:
    """What kernels and model checks both need: the zygote imports these first (then, with a
    check server, :func:`check_imports`, and forks it) and goes on with :func:`kernel_imports`."""
    import pandas.core.methods.to_dict  # noqa: F401, PLC0415  (the model's docs, described)
    import pyarrow.pandas_compat  # noqa: F401, PLC0415  (a model load's first table: ≈ 5 ms per kernel)
    import peragus_pysd  # noqa: F401, PLC0415  (PySD with its rare imports deferred: deferred.py)
    import pysd  # noqa: F401, PLC0415

    from . import plancheck  # noqa: F401, PLC0415


def kernel_imports() -> None:
    """What a kernel and a typical experiment import on top of :func:`shared_imports`.

    PySD's translators and builder (:func:`check_imports`) are in a kernel's fork only when the
    zygote imported them for its check server first (``--checks-first``): shared, never copied,
    as a kernel never touches them.
    """
    import pyarrow.parquet  # noqa: F401, PLC0415  (every run's Parquet: ≈ 0.02 CPU-s per kernel)
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from ipykernel.kernelapp import IPKernelApp  # noqa: F401, PLC0415

    # What IPKernelApp.initialize() and a model's first load import (≈ 20 ms of every kernel's
    # start). Not ipykernel.debugger: it imports debugpy, which a kernel without
    # PERAGUS_KERNEL_DEBUGGER=1 hides before that import (kernel_launcher.py).
    import faulthandler  # noqa: F401, PLC0415
    import IPython.core.completerlib  # noqa: F401, PLC0415
    import IPython.core.debugger  # noqa: F401, PLC0415
    import IPython.core.logger  # noqa: F401, PLC0415
    import IPython.core.oinspect  # noqa: F401, PLC0415
    import IPython.extensions.storemagic  # noqa: F401, PLC0415
    import IPython.utils.wildcard  # noqa: F401, PLC0415
    import pyarrow.vendored.version  # noqa: F401, PLC0415
    import tornado.platform.asyncio  # noqa: F401, PLC0415

    import peragus_pysd.experiment  # noqa: F401, PLC0415  (params, validate, writers, runner)

    from . import kernel_launcher  # noqa: PLC0415

    # The first time a backend outside matplotlib's built-in list is named, matplotlib reads the
    # entry points of every installed distribution (≈ 120 files, ≈ 15 ms of a fork's CPU). Each
    # kernel names the inline one (kernel_launcher._inline_backend): read once here, for all forks.
    from matplotlib.backends import backend_registry  # noqa: PLC0415

    backend_registry.is_valid_backend(kernel_launcher.INLINE)


# A model of our own (never a client's) translated once before the check server serves:
# PySD's first translation in a process pays its grammars and the formatter's set-up (≈ 0.16 s
# of the teacup's 0.2); every check forked after this pays only its own model's (≈ 0.04).
_WARM_MODEL = """{UTF-8}
Level = INTEG(Inflow - Outflow, 10)
	~	units
	~	a stock
	|

Inflow = Rate * Table(Time)
	~	units/Month
	~	|

Outflow = Level / Delay Time
	~	units/Month
	~	|

Rate = 1
	~	1/Month [0, 10, 0.5]
	~	|

Delay Time = MAX(1, 3)
	~	Month
	~	|

Table([(0,0)-(10,2)],(0,1),(5,2),(10,1))
	~	
	~	|

********************************************************
	.Control
********************************************************~
		Simulation Control Parameters
	|

FINAL TIME  = 10
	~	Month
	~	|

INITIAL TIME  = 0
	~	Month
	~	|

SAVEPER  = TIME STEP
	~	Month
	~	|

TIME STEP  = 1
	~	Month
	~	|
"""


def check_imports(warm: bool = True) -> None:
    """What a model check needs on top of :func:`shared_imports`: PySD's translators and builder,
    the check's validation, and with ``warm`` one translation of :data:`_WARM_MODEL` in a private
    temporary folder (neutral for a plan's first check, ≈ 0.15 s off every later one; without
    it, a first check whose model is already in the shared cache answers ≈ 0.1 s sooner)."""
    import shutil  # noqa: PLC0415
    import tempfile  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    import pysd  # noqa: PLC0415
    import pysd.translators.vensim.vensim_file  # noqa: F401, PLC0415

    from . import params, validate  # noqa: F401, PLC0415
    from .builder import import_unformatted_builder  # noqa: PLC0415

    import_unformatted_builder()
    if not warm:
        return

    folder = tempfile.mkdtemp(prefix="peragus-check-warm-")
    try:
        model = os.path.join(folder, "warm.mdl")
        with open(model, "w", encoding="utf-8") as f:
            f.write(_WARM_MODEL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pysd.read_vensim(model, initialize=False)
    except Exception:  # noqa: BLE001 - a warm-up only: the checks translate all the same
        pass
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def isolate(request: dict[str, Any], out_fd: int) -> None:
    """In the forked child, before the kernel: the experiment's own session, cwd, env and stdio."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    env = request.get("env")
    if isinstance(env, dict):
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
    cwd = request.get("cwd")
    if cwd:
        os.chdir(str(cwd))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # A cold kernel starts with fresh entropy; so does a forked one.
    try:
        import numpy as np  # noqa: PLC0415

        np.random.seed()
    except ImportError:
        pass


def _enter_child(request: dict[str, Any], out_fd: int, close_fds: list[int]) -> None:
    """A forked child's first steps, a kernel's or a check's: the zygote's other descriptors
    closed, then :func:`isolate`, with line-buffered stdout and stderr on the output pipe."""
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    isolate(request, out_fd)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


def _flush_and_exit(code: int) -> None:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass
    os._exit(code)


def run_check(request: dict[str, Any], out_fd: int, close_fds: list[int]) -> None:
    """A model check's child (already in its own sandbox): :mod:`peragus_pysd.plancheck` on the
    request's ``check`` object, its answer as the last line of the output. Never returns."""
    code = 1
    try:
        _enter_child(request, out_fd, close_fds)
        from . import plancheck  # noqa: PLC0415

        answer = plancheck.run(request.get("check"))
        sys.stdout.write(json.dumps(answer) + "\n")
        code = 0
    except BaseException:  # noqa: BLE001 - report whatever stopped the check
        import traceback  # noqa: PLC0415

        traceback.print_exc()
    finally:
        _flush_and_exit(code)


def run_kernel(request: dict[str, Any], out_fd: int, close_fds: list[int]) -> None:
    """The child: never returns."""
    code = 1
    try:
        _enter_child(request, out_fd, close_fds)
        from . import kernel_launcher  # noqa: PLC0415

        argv = [str(a) for a in request.get("argv") or []]
        sys.argv = ["peragus-kernel", *argv]
        kernel_launcher.main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report whatever stopped the kernel
        import traceback  # noqa: PLC0415

        traceback.print_exc()
    finally:
        _flush_and_exit(code)
