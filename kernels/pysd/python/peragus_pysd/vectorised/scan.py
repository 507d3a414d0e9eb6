"""Which parts of a translated model can run with arrays of N runs: a static scan of PySD's Python file.

Every callable the model's equations use is checked against a list of the
ones reviewed for array arguments (PySD 3.14): each either computes the same
value per run with numpy arrays, is replaced by an array-aware version
(:mod:`.patches`), or raises (``if`` on an array, ``float()`` of an array),
which :mod:`.driver` turns into a per-run fallback. Anything else is a
*blocker*: the experiment runs per run, and the reason names the variable and
the function.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# pysd.py_backend names reviewed for array arguments (see the module docstring).
PYSD_OK = {
    "Component",
    "Integ",
    "NonNegativeInteg",
    "Delay",  # order reduction across runs is checked after initialisation (driver)
    "DelayN",
    "DelayFixed",  # a varied delay time raises (max() of an array)
    "Smooth",
    "Initial",
    "Forecast",  # swapped for a subclass calling the array-aware zidz (patches)
    "Trend",  # idem
    "SampleIfTrue",  # swapped for a subclass calling the array-aware if_then_else (patches)
    "HardcodedLookups",  # replaced by an array-aware call (patches.VecLookup)
    "if_then_else",  # replaced (patches)
    "xidz",  # replaced (patches)
    "zidz",  # replaced (patches)
    "step",
    "ramp",
    "pulse",
    "active_initial",
    "integer",  # int() of an array raises
    "quantum",
    "modulo",
    "get_time_value",
    "ExtConstant",  # values read from files: the same in every run
    "ExtData",
}
NUMPY_OK = {
    "abs", "exp", "log", "log10", "sqrt", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
    "tanh", "power", "maximum", "minimum", "logical_and", "logical_or", "logical_not", "interp", "floor",
    "ceil", "round", "sign", "mod", "fmod", "isnan", "where",
}  # fmt: skip
NUMPY_VALUES = {"nan", "inf", "pi", "e"}
RANDOM = {"np.random.uniform", "stats.truncnorm.rvs", "stats.truncexpon.rvs"}
BUILTINS_OK = {"abs", "float", "int", "min", "max", "round"}  # raise on arrays where they cannot apply


@dataclass(frozen=True)
class Blocker:
    variable: str
    function: str
    why: str

    def describe(self) -> str:
        if self.variable == "(model)":
            return f"the model uses {self.function} ({self.why})"
        return f"variable {self.variable!r} uses {self.function} ({self.why})"


@dataclass
class Scan:
    blockers: list[Blocker]
    uses_random: bool
    lookups: list[str]  # module names of HardcodedLookups objects
    owners: dict[str, str]  # module object (_integ_x, _delayfixed_y) -> the model variable that uses it
    control: dict[str, list[str]]  # time setting (final_time, ...) -> components its expression calls


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _component_name(fn: ast.FunctionDef) -> str | None:
    for dec in fn.decorator_list:
        if isinstance(dec, ast.Call) and _dotted(dec.func) == "component.add":
            for kw in dec.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    return None


def _calls(node: ast.AST) -> list[str]:
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            name = _dotted(sub.func)
            if name is not None:
                out.append(name)
        elif isinstance(sub, ast.Attribute) and _dotted(sub) and str(_dotted(sub)).startswith(("np.", "xr.")):
            out.append(str(_dotted(sub)))
    return out


def scan_file(py_file: str | Path, subscripts: dict[str, Any] | None = None) -> Scan:
    tree = ast.parse(Path(py_file).read_text(encoding="utf-8"))
    imported: dict[str, str] = {}  # local name -> module
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                imported[a.asname or a.name] = node.module
        elif isinstance(node, ast.Import):
            for a in node.names:
                imported[a.asname or a.name] = a.name
    control: dict[str, list[str]] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "_control_vars" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            for k, v in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(k, ast.Constant) and v is not None:
                    control[str(k.value)] = _calls(v)
    components: dict[str, str] = {}  # python function name -> model name
    bodies: list[tuple[str, ast.AST]] = []
    module_objects: dict[str, tuple[str, ast.AST]] = {}  # _integ_x -> (class, node)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            real = _component_name(node)
            if real is not None:
                components[node.name] = real
                bodies.append((real, node))
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            cls = _dotted(node.value.func)
            for t in node.targets:
                if isinstance(t, ast.Name) and cls:
                    module_objects[t.id] = (cls, node.value)
    owner: dict[str, str] = {}
    for real, body in bodies:
        for call in _calls(body):
            if call in module_objects:
                owner.setdefault(call, real)
    changed = True
    while changed:  # objects used inside other objects (a macro inside an INTEG) belong to the same variable
        changed = False
        for obj, (_, node) in module_objects.items():
            if obj not in owner:
                continue
            for call in _calls(node):
                if call in module_objects and call not in owner:
                    owner[call] = owner[obj]
                    changed = True
    for obj, (cls, node) in module_objects.items():
        bodies.append((owner.get(obj, obj), node))
        bodies.append((owner.get(obj, obj), ast.Call(func=ast.Name(id=cls), args=[], keywords=[])))

    blockers: list[Blocker] = []
    uses_random = False
    seen: set[tuple[str, str]] = set()

    def block(variable: str, fn: str, why: str) -> None:
        if (variable, fn) not in seen:
            seen.add((variable, fn))
            blockers.append(Blocker(variable, fn, why))

    if subscripts:
        dims = ", ".join(sorted(subscripts)[:3])
        block("(model)", f"subscript ranges ({dims})", "the vectorised runner covers scalar models")
    for real, body in bodies:
        for name in _calls(body):
            if name in RANDOM:
                uses_random = True
                continue
            if name in components or name in module_objects or name == "__data.time" or name.startswith("__data"):
                continue
            head, _, rest = name.partition(".")
            if head == "np":
                if rest in NUMPY_OK or rest in NUMPY_VALUES or rest == "random" or rest == "array":
                    continue
                block(real, name, "not reviewed for arrays of runs")
            elif head == "xr":
                block(real, name, "subscripted expression")
            elif head in imported and imported[head].startswith("pysd"):
                if head in PYSD_OK:
                    continue
                block(real, head, "not reviewed for arrays of runs")
            elif name in BUILTINS_OK:
                continue
            elif name.startswith("_") or "." in name:
                # calls on module objects (e.g. _ext_constant_x.initialize) and others
                if head in module_objects:
                    continue
                block(real, name, "not reviewed for arrays of runs")
            else:
                block(real, name, "not reviewed for arrays of runs")
    lookups = [n for n, (cls, _) in module_objects.items() if cls == "HardcodedLookups"]
    owners = {obj: owner.get(obj, obj) for obj in module_objects}
    control = {k: [c for c in calls if c in components] for k, calls in control.items()}
    return Scan(blockers=blockers, uses_random=uses_random, lookups=lookups, owners=owners, control=control)
