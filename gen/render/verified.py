"""What `verified` means, in numbers read from the verifier's own code.

The site's page "What verified means" (templates/site/verified.md.j2) and the paragraph
that each PDF prints (gen/render/pdf.py) are written from `facts()`: the caps and floors
of the size rule (check/sizerule.py), the points and working precision of the exact check
(check/exact.py), the points of the numeric check (check/numeric.py), its tolerance and
point counts (check/sampling.py), and the degree bounds that the size rule computes for a few
example claims. A changed constant changes the page and the PDFs; nothing here is a copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from matderiv.catalog.load import Identity
from matderiv.check import exact, numeric, sampling, sizerule
from matderiv.errors import CODES
from matderiv.lang.forms import prepare

THEOREM = "Procesi 1976, Thm 4.3; Razmyslov 1974"
REFERENCES = (
    "C. Procesi, The invariant theory of n × n matrices, Advances in Mathematics 19 "
    "(1976), 306–381, Theorem 4.3.",
    "Yu. P. Razmyslov, Trace identities of full matrix algebras over a field of "
    "characteristic zero, Izvestiya Akademii Nauk SSSR, Seriya Matematicheskaya 38 (1974), "
    "723–756; English translation Mathematics of the USSR-Izvestiya 8 (1974), 727–760.",
)
EVIDENCE_COMMAND = "matderiv verify FILE --id ID --explain"


# ---------------------------------------------------------------- the draw of exact points


def value_count(top: int, shift: int) -> int:
    """How many distinct values p/2^k (1 ≤ p ≤ top, 0 ≤ k ≤ shift) take, both signs:
    the integers 1..top, and for each k ≥ 1 the odd numerators over 2^k."""
    return 2 * (top + shift * ((top + 1) // 2))


def point_mass(top: int, shift: int, signed: bool = True) -> Fraction:
    """The largest probability that exact.scalar gives one value: p and k are uniform,
    so a value with many representations p/2^k (a power of two) is the most likely."""
    def representations(e: int) -> int:  # of 2^e: pairs (p, k) = (2^(e + k), k)
        return sum(1 for k in range(shift + 1) if e + k >= 0 and 2 ** (e + k) <= top)

    most = max(representations(e) for e in range(-shift, top.bit_length() + 1))
    return Fraction(most, (shift + 1) * top * (2 if signed else 1))


# ---------------------------------------------------------------- examples of the bound


@dataclass(frozen=True)
class Example:
    """A claim, and the degree bound matderiv.check.sizerule computes for it."""

    of: str
    form: str  # the differential, in catalog syntax
    degree: int
    bound: int
    covered: bool
    capped: bool

    @property
    def guarantee(self) -> str:
        return "proved" if self.covered and not self.capped else "checked"


def _power_differential(k: int) -> str:
    """d(X^k) = sum of X^i dX X^(k-1-i), in catalog syntax."""
    def power(i: int) -> str:
        return "" if i == 0 else "X" if i == 1 else f"X**{i}"
    return " + ".join("*".join(p for p in (power(i), "dX", power(k - 1 - i)) if p)
                      for i in range(k))


def example(of: str, differential: str, symbols: dict[str, str],
            derivative: dict[str, str] | None = None) -> Example:
    """The bound of `of` against its forms, as the verifier computes it."""
    ident = Identity(id="example", title="example", symbols=symbols, of=of, wrt="X",
                     derivative=derivative or {}, differential=differential, tags=[],
                     sources=[],
                     notes=None, see_also=[], status=None, corrected_by=None,
                     file="<example>", line=1)
    prep = prepare(ident)
    if prep.invalid:
        raise ValueError(f"example {of!r} is not a valid identity: {prep.problems}")
    bound = sizerule.degree_bound(prep, [f for f in prep.forms.values() if f.shape_ok])
    return Example(of, differential, bound.degree, bound.bound, bound.covered, bound.capped)


def examples() -> list[Example]:
    """X³ (the page's worked example), a scalar trace, a Hadamard product (the count
    doubled, a heuristic) and the first power of X whose bound is above the cap."""
    square = {"X": "matrix n n"}
    over_cap = sizerule.EXACT_CAP  # X^k is matrix-valued: bound k + 1 > cap for k = cap
    return [
        example("X**3", _power_differential(3), square),
        example("tr(X**3)", "3*tr(X**2*dX)", square, {"denominator": "3*(X.T)**2"}),
        example("hadamard(X, X)", "2*hadamard(X, dX)", {"X": "matrix m n"}),
        example(f"X**{over_cap}", _power_differential(over_cap), square),
    ]


# ---------------------------------------------------------------- every number, from the code


def sci(value: float) -> str:
    """TeX for a number in scientific notation: 10^{-6}, 2.2 \\cdot 10^{7}."""
    mantissa, exponent = f"{float(value):.1e}".split("e")
    exponent = int(exponent)
    if mantissa in ("1.0", "-1.0"):
        return ("-" if mantissa.startswith("-") else "") + f"10^{{{exponent}}}"
    return f"{mantissa} \\cdot 10^{{{exponent}}}"


def _reciprocal(p: Fraction) -> str:
    """TeX for a probability 1/N (N with thousands separators), or p/q."""
    text = f"1/{p.denominator:,}" if p.numerator == 1 else f"{p.numerator}/{p.denominator:,}"
    return text.replace(",", "{,}")


def _times_d(p: Fraction) -> str:
    """TeX for d times a probability: d/2{,}100{,}000."""
    top = "d" if p.numerator == 1 else f"{p.numerator}d"
    return f"{top}/{p.denominator:,}".replace(",", "{,}")


def facts() -> dict:
    """Every constant the page and the PDF paragraph state, read from the code now."""
    top, shift = exact.LEVELS[0]
    narrow_top, narrow_shift = exact.LEVELS[1]
    mass = point_mass(top, shift)
    narrow_mass = point_mass(narrow_top, narrow_shift)
    spread = numeric.SPREAD
    return {
        "theorem": THEOREM, "references": REFERENCES, "command": EVIDENCE_COMMAND,
        "exact_cap": sizerule.EXACT_CAP, "heuristic_cap": sizerule.HEURISTIC_CAP,
        "numeric_floor": sizerule.NUMERIC_FLOOR, "numeric_cap": sizerule.NUMERIC_CAP,
        "heuristic_numeric_cap": sizerule.HEURISTIC_NUMERIC_CAP,
        # rules that only some versions of the size rule have: stated when present
        "size_values": getattr(sizerule, "MAX_SIZE_VALUES", 0),
        "equal_sizes": hasattr(sizerule, "equal_assignment"),
        "exact_size_values": hasattr(sizerule, "exact_number_assignments"),
        "top": top, "top_tex": sci(top), "shift": shift,
        "narrow_top": narrow_top, "narrow_shift": narrow_shift,
        "values": value_count(top, shift), "values_tex": sci(value_count(top, shift)),
        "orders": round(math.log10(top) + shift * math.log10(2)),
        "mass": mass, "mass_tex": _reciprocal(mass),
        "chance_tex": _times_d(mass),
        "positive_mass_tex": _reciprocal(point_mass(top, shift, signed=False)),
        "narrow_mass_tex": _reciprocal(narrow_mass),
        "cap_chance_tex": sci(float(sizerule.EXACT_CAP * mass)),
        "precision": exact.PRECISION,
        "digits": math.floor(exact.PRECISION * math.log10(2)),
        "exact_tolerance": f"{float(exact.TOLERANCE):.0e}",
        "exact_tolerance_tex": sci(float(exact.TOLERANCE)),
        "exact_tries": sampling.TRIES,
        "numeric_tolerance": f"{sampling.NUMERIC_TOLERANCE:.0e}",
        "numeric_tolerance_tex": sci(sampling.NUMERIC_TOLERANCE),
        "numeric_points": sampling.NUMERIC_POINTS,
        "spread_low_tex": sci(10 ** -spread), "spread_high_tex": sci(10 ** spread),
        "max_cond": f"{numeric.MAX_COND:g}",
        "step_tex": sci(numeric.STEP_COMPLEX),
        "no_point": CODES["E404"].split(" at sizes")[0],
        "examples": examples(),
    }
