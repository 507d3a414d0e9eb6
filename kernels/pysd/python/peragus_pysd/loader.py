"""Loading models: translate once, keep them in a registry keyed by a deterministic model id.

Vensim (.mdl) and XMILE (.xmile, .xml, .stmx) files are translated by PySD into
a Python file inside a translation cache (``.peragus/models/<sha>/`` under the
working directory, or ``$PERAGUS_PYSD_CACHE``), never next to the source, so a
read-only model folder works and reruns reuse the translation. Files that sit
beside the source (data spreadsheets, tab files) are symlinked into the cache so
PySD's relative external references still resolve.

A second, shared cache (``$PERAGUS_PYSD_SHARED_CACHE``, the host's
``<PERAGUS_HOME>/pysd-cache``) holds one translation per model content sha256 and
PySD version, written once per plan by :mod:`peragus_pysd.plancheck` before any
experiment starts. Experiments only read it (Docker mounts it read-only): a
verified translation is copied read-only into the experiment's own cache folder,
so every experiment still loads its own file, beside its own data files. Each
entry records the sha256 of its translated file; an entry that does not match is
ignored (and rebuilt by the next plan check), never loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import py_compile
import re
import shutil
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pysd

from .builder import import_unformatted_builder
from .errors import ModelTranslationError, PathOutsideWorkDirError, PeragusError, UnknownModelError

FORMATS = {
    "vensim": (".mdl",),
    "xmile": (".xmile", ".xml", ".stmx"),
    "python": (".py",),
}
CONTROL_VARS = ("initial_time", "final_time", "time_step", "saveper")


@dataclass
class LoadedModel:
    """A translated model kept in the kernel."""

    model_id: str
    name: str
    source: Path
    format: str
    sha256: str
    py_file: Path
    model: Any  # pysd.py_backend.model.Model, pristine (never run by experiments)
    # What describe.py derives from the translated file once (its time unit), for every run.
    info: dict[str, Any] = field(default_factory=dict)

    def fresh(self) -> Any:
        """A new, unmodified model instance from the translated file (cheap: no translation)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model.copy(reload=True)


_REGISTRY: dict[str, LoadedModel] = {}
_LOCK = threading.Lock()


def get_model(model_id: str) -> LoadedModel:
    try:
        return _REGISTRY[model_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownModelError(
            f"unknown model_id {model_id!r}; load it first with load_model(). Loaded: {known}"
        ) from None


def loaded_models() -> list[str]:
    return sorted(_REGISTRY)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s or "model"


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        f = fmt.lower()
        if f in ("mdl",):
            f = "vensim"
        if f in ("stmx", "xml"):
            f = "xmile"
        if f in ("py", "pysd"):
            f = "python"
        if f not in FORMATS:
            raise PeragusError(f"unsupported model format {fmt!r}; use one of: vensim, xmile, python")
        return f
    suffix = path.suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    raise PeragusError(
        f"cannot tell the model format of {path.name!r} from its extension; "
        "pass format='vensim' (.mdl), 'xmile' (.xmile/.xml/.stmx) or 'python' (PySD .py)"
    )


def confine(source: str | os.PathLike[str], base: str | os.PathLike[str] | None) -> Path:
    """Resolve ``source``; when ``base`` is given it must stay inside it (symlinks resolved)."""
    if base is None:
        return Path(source).expanduser().resolve()
    root = Path(base).resolve()
    candidate = (root / Path(source)).resolve()
    if candidate != root and root not in candidate.parents:
        raise PathOutsideWorkDirError(f"path {str(source)!r} is outside the work dir {str(root)!r}")
    return candidate


def cache_root() -> Path:
    env = os.environ.get("PERAGUS_PYSD_CACHE")
    return Path(env) if env else Path.cwd() / ".peragus" / "models"


def _stage_for_translation(src: Path, sha: str) -> Path:
    """Copy ``src`` into its cache folder, with its siblings symlinked; return the copy."""
    folder = cache_root() / entry_name(sha)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / src.name
    if not target.exists():
        tmp = folder / f".{src.name}.tmp{os.getpid()}"
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
    for sibling in src.parent.iterdir():
        # Skip the model itself, its translations and split-view module folders.
        if sibling.name == src.name or sibling.stem == src.stem or sibling.suffix == ".py":
            continue
        link = folder / sibling.name
        if not link.exists() and not link.is_symlink():
            try:
                link.symlink_to(sibling.resolve())
            except OSError:
                pass
    return target


ENTRY_FILE = "entry.json"
PYC_FILE = "model.pyc"


def entry_name(sha: str) -> str:
    return f"{sha[:16]}-pysd{pysd.__version__}"


def shared_cache_root() -> Path | None:
    env = os.environ.get("PERAGUS_PYSD_SHARED_CACHE")
    return Path(env) if env and env != "0" else None


def _shared_entry(sha: str) -> tuple[Path, dict[str, Any]] | None:
    """The verified translated file for ``sha`` in the shared cache and its entry, or None (missing or corrupt)."""
    root = shared_cache_root()
    if root is None:
        return None
    folder = root / entry_name(sha)
    try:
        entry = json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8"))
        py_file = folder / entry["py_file"]
        if entry.get("source_sha256") != sha or entry.get("pysd_version") != pysd.__version__:
            return None
        if Path(entry["py_file"]).name != entry["py_file"] or sha256_file(py_file) != entry.get("py_sha256"):
            return None
        return py_file, entry
    except (OSError, ValueError, KeyError, TypeError):
        return None


def shared_translation(sha: str) -> Path | None:
    """The verified translated file for ``sha`` in the shared cache, or None (missing or corrupt)."""
    found = _shared_entry(sha)
    return found[0] if found else None


def publish_translation(src: Path, fmt: str, sha: str) -> Path:
    """Translate ``src`` into the shared cache (once per content sha256 and PySD version).

    A valid entry is reused; a corrupt one (its file no longer matches the recorded
    sha256) is rebuilt. The entry is written in a temporary folder and renamed
    into place, so readers never see half a translation.
    """
    root = shared_cache_root()
    if root is None:
        raise PeragusError("PERAGUS_PYSD_SHARED_CACHE is not set")
    hit = shared_translation(sha)
    if hit is not None:
        return hit
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{entry_name(sha)}-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        staged = tmp / f"model{src.suffix.lower()}"
        shutil.copyfile(src, staged)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import_unformatted_builder()
            reader = pysd.read_vensim if fmt == "vensim" else pysd.read_xmile
            try:
                reader(str(staged), initialize=False)
            except Exception as exc:  # noqa: BLE001 - PySD raises many exception types
                raise _translation_error(src, fmt, exc) from exc
        py_file = staged.with_suffix(".py")
        entry = {
            "source_sha256": sha,
            "pysd_version": pysd.__version__,
            "format": fmt,
            "py_file": py_file.name,
            "py_sha256": sha256_file(py_file),
            **_compile_shared(py_file, tmp),
        }
        (tmp / ENTRY_FILE).write_text(json.dumps(entry), encoding="utf-8")
        final = root / entry_name(sha)
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)  # corrupt: verified above
        try:
            os.replace(tmp, final)
        except OSError:
            if shared_translation(sha) is None:  # lost a race to a bad writer: report it
                raise
        found = shared_translation(sha)
        if found is None:
            raise PeragusError(f"the shared translation cache entry {final} does not verify after writing it")
        return found
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _compile_shared(py_file: Path, folder: Path) -> dict[str, str]:
    """Byte-compile a translation into its cache entry, once: every kernel then loads the bytecode.

    The .pyc is checked against the source's hash, not its mtime (PEP 552), so it stays valid
    beside each kernel's copy of the .py. A model that cannot be compiled here gets no .pyc
    (its kernels compile it themselves, and report what is wrong).
    """
    pyc = folder / PYC_FILE
    try:
        py_compile.compile(
            str(py_file),
            cfile=str(pyc),
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
    except py_compile.PyCompileError:
        return {}
    return {"pyc_file": pyc.name, "pyc_sha256": sha256_file(pyc)}


def _copy_verified(src: Path, dest: Path, sha: str) -> bool:
    """Copy ``src`` to ``dest`` (read-only) through a temp name, if the copy has sha256 ``sha``."""
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o444)
    if sha256_file(tmp) != sha:
        tmp.unlink()
        return False
    os.replace(tmp, dest)
    return True


def _reuse_shared(staged: Path, sha: str) -> Path | None:
    """Copy a verified shared translation (and its bytecode) next to the staged source; None when there is none."""
    found = _shared_entry(sha)
    if found is None:
        return None
    shared, entry = found
    py_file = staged.with_suffix(".py")
    if not _copy_verified(shared, py_file, str(entry["py_sha256"])):
        return None
    name = entry.get("pyc_file")
    if not isinstance(name, str) or Path(name).name != name:
        return py_file
    try:
        cache = Path(importlib.util.cache_from_source(str(py_file)))
        cache.parent.mkdir(exist_ok=True)
        # A .pyc that does not match its recorded hash is left out: the kernel compiles the source.
        _copy_verified(shared.parent / name, cache, str(entry.get("pyc_sha256")))
    except OSError:
        pass
    return py_file


def _translation_error(src: Path, fmt: str, exc: BaseException) -> ModelTranslationError:
    cause = str(exc).strip().splitlines()
    first = cause[0] if cause else ""
    if len(cause) > 1:
        first = " ".join(line.strip() for line in cause[:4])
    return ModelTranslationError(
        f"PySD cannot {'load' if fmt == 'python' else 'translate'} {src.name} ({fmt}): "
        f"{type(exc).__name__}: {first[:600]}"
    )


def _translate(src: Path, fmt: str, sha: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "python":
                return pysd.load(str(src))
            staged = _stage_for_translation(src, sha)
            py_file = staged.with_suffix(".py")
            if not py_file.exists():
                _reuse_shared(staged, sha)
            if py_file.exists():
                try:
                    return pysd.load(str(py_file))
                except Exception:  # noqa: BLE001 - stale or partial translation: redo it
                    py_file.unlink()
            import_unformatted_builder()
            reader = pysd.read_vensim if fmt == "vensim" else pysd.read_xmile
            return reader(str(staged))
    except PeragusError:
        raise
    except Exception as exc:  # noqa: BLE001 - PySD raises many exception types
        raise _translation_error(src, fmt, exc) from exc


def _register(loaded: LoadedModel) -> None:
    with _LOCK:
        _REGISTRY[loaded.model_id] = loaded


def load(
    source: str | os.PathLike[str],
    format: str | None = None,  # noqa: A002 - public API name
    name: str | None = None,
    content: str | None = None,
    confine_to: str | os.PathLike[str] | None = None,
) -> LoadedModel:
    """Translate (or reuse) a model and register it; see :func:`peragus_pysd.load_model`."""
    path = confine(source, confine_to)
    if content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    if not path.is_file():
        raise PeragusError(f"model file not found: {str(source)!r}")
    fmt = detect_format(path, format)
    sha = sha256_file(path)
    model = _translate(path, fmt, sha)
    model_id = slug(name) if name else f"{slug(path.stem)}-{sha[:8]}"
    loaded = LoadedModel(
        model_id=model_id,
        name=name or path.stem,
        source=path,
        format=fmt,
        sha256=sha,
        py_file=Path(model.py_model_file),
        model=model,
    )
    _register(loaded)
    return loaded
