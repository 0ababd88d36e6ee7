__version__ = "0.1.0"

import sys
import types

# Expressions may nest expr.MAX_DEPTH (500) deep and every walk over them recurses.
if sys.getrecursionlimit() < 10_000:
    sys.setrecursionlimit(10_000)

# The notebook API, loaded on first use so that `import matderiv` stays light:
# matderiv.derive(...) (gen/symbolic/api.py), matderiv.verify(...) (gen/api.py), and the
# classes they return.
#
# Both names are also submodules (gen/derive.py, the exact dual-number algebra, and
# gen/verify.py, the verifier), and importing a submodule sets the package's attribute to
# it. So these two names are the submodules, made callable: calling one calls the API.
_CALLABLE = {"derive": "symbolic.api", "verify": "api"}
_LAZY = {"Check": "api", "Result": "symbolic.api", "Refused": "symbolic.core"}
__all__ = ["__version__", *_CALLABLE, *_LAZY]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        import importlib

        name = self.__name__.rpartition(".")[2]
        api = importlib.import_module(f"{__package__}.{_CALLABLE[name]}")
        return getattr(api, name)(*args, **kwargs)


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        if name in _CALLABLE and type(value) is types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    import importlib

    if name in _CALLABLE:
        return importlib.import_module(f"{__name__}.{name}")  # made callable by _Package
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_CALLABLE) | set(_LAZY))
