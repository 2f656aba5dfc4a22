"""Public names imported on first use (PEP 562), for a package's ``__init__``.

Example
-------
>>> __getattr__, __dir__ = lazy_names(globals(), {"sqrt": "math"})
>>> __getattr__("sqrt")(4.0)
2.0
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_names(
    namespace: dict, names: dict[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` that import ``names[name]``'s module on first
    access of ``name`` and keep the value in ``namespace`` (the package's ``globals()``)."""
    package = namespace.get("__name__")

    def __getattr__(name: str):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *names])

    return __getattr__, __dir__
