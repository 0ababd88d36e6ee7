"""The symbolic engine behind `matderiv derive`: differential rules, linearisation,
identification (trace trick, J dx, vec/Kronecker), layouts, simplification, steps; every
result checked by the verifier before it is returned."""

from matderiv.symbolic.api import Result, derive
from matderiv.symbolic.core import Refused

__all__ = ["Refused", "Result", "derive"]
