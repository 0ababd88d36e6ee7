__version__ = "0.1.0"

import sys

# Expressions may nest expr.MAX_DEPTH (500) deep and every walk over them recurses.
if sys.getrecursionlimit() < 10_000:
    sys.setrecursionlimit(10_000)

# The notebook API, loaded on first use so that `import matderiv` stays light:
# matderiv.derive(...) (gen/symbolic/api.py), matderiv.verify(...) (gen/pipeline/api.py),
# and the classes they return.
_LAZY = {"derive": "symbolic.api", "verify": "pipeline.api", "Check": "pipeline.api",
         "Result": "symbolic.api", "Refused": "symbolic.core"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
