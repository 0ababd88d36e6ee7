"""The size rule: how large the sizes must be for a check to mean something.

n×n matrices satisfy no multilinear trace identity of degree ≤ n (Procesi 1976, Thm 4.3;
Razmyslov 1974), so a trace-polynomial identity of degree d that holds at one size n ≥ d
holds at every size, while below d it can hold without being true (Cayley–Hamilton).

The degree is counted as catalog-format.md says: write the claim as
D = d(of) − (each form applied to d<wrt>); d is the largest number of matrix or vector
factors in one term of D. A scalar `of` needs sizes ≥ d; a vector or matrix `of` needs
sizes ≥ d + 1 (contracting D with one more matrix makes it a pure trace polynomial).

The theorem covers polynomials in the matrices, their transposes and traces (a scalar
divisor that is itself such a polynomial included: clear it and the claim stays a
polynomial). det, inv, negative powers, Kronecker and Hadamard products, diag, vec,
norms and every elementwise or generic function are outside it: for those the same count
(doubled where an entrywise operation appears) only picks the sizes, and the identity's
guarantee is *checked*, never *proved*.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from matderiv.lang import expr as E
from matderiv.lang.shapes import integer_exponent, is_scalar, symbolic_integer

EXACT_CAP = 8  # the exact check of a polynomial identity goes no higher than this
HEURISTIC_CAP = 5  # nor that of one outside the theorem (its sizes are a heuristic)
NUMERIC_FLOOR = 6  # the numeric check adds an assignment with every size at least this
NUMERIC_CAP = 12  # the smallest size of the numeric assignment, at most (9 outside the
HEURISTIC_NUMERIC_CAP = 9  # theorem, whose bound is only a heuristic)

ENTRYWISE = {"hadamard", "diag", "softmax", "hadamard_pow", "hadamard_div"}
OUTSIDE = {"det", "inv", "kron", "hadamard", "diag", "vec", "norm", "softmax",
           # format 1.2: power series and pseudo-inverses are no trace polynomials, and the
           # commutation matrix is a permutation of entries
           "expm", "logm", "pinv", "hadamard_pow", "hadamard_div", "commutation"}


@dataclass(frozen=True)
class Degree:
    """The factor count of an expression and whether the theorem covers it."""

    d: int
    covered: bool = True
    entrywise: bool = False

    def __add__(self, other: Degree) -> Degree:
        return Degree(self.d + other.d, self.covered and other.covered,
                      self.entrywise or other.entrywise)

    def join(self, other: Degree) -> Degree:
        return Degree(max(self.d, other.d), self.covered and other.covered,
                      self.entrywise or other.entrywise)

    def outside(self, entrywise: bool = False) -> Degree:
        return Degree(self.d, False, self.entrywise or entrywise)


ZERO = Degree(0)


class _Counter(E.Visitor):
    """Counts matrix and vector factors; `scalar(node)` says whether a node is 1×1."""

    def __init__(self, decls: dict, scalar):
        self.decls = decls
        self.scalar = scalar

    def __call__(self, node) -> Degree:
        return self.visit(node)

    def _Num(self, node) -> Degree:
        return ZERO

    _Size = _Const = _Num

    def _Sym(self, node) -> Degree:
        return ZERO if self.decls[node.name].kind == "scalar" else Degree(1)

    _Differential = _Sym

    def _DiffOf(self, node) -> Degree:
        return ZERO if self.scalar(node) else Degree(1)

    def _Neg(self, node) -> Degree:
        return self(node.arg)

    _Transpose = _Neg

    def _Apply(self, node) -> Degree:
        return self(node.arg).outside(not self.scalar(node.arg))

    def _Bin(self, node) -> Degree:
        left, right = self(node.left), self(node.right)
        if node.op in "+-":
            return left.join(right)
        if node.op == "*":
            return left + right
        if node.op == "/":
            if not self.scalar(node.right):  # entry by entry (format 1.2)
                return (left + right).outside(True)
            if isinstance(node.right, E.Num):
                return left
            return left + right + right
        if not self.scalar(node.left) and self.scalar(E.Bin("*", E.Transpose(node.left),
                                                            node.left)) != self.scalar(
                E.Bin("*", node.left, E.Transpose(node.left))):
            # a vector's power is entry by entry (format 1.2): vᵀv or vvᵀ, not both, is 1×1
            return (left + right).outside(True)
        k = integer_exponent(node.right)
        if k is None and symbolic_integer(node.right):  # X**k, k declared `integer` (1.2):
            # the degree of the largest power tried, outside the theorem (fixed degrees only)
            return Degree(max(INTEGER_VALUES) * left.d, left.covered, left.entrywise).outside()
        if k is None:
            return (left + right).outside()
        scaled = Degree(abs(k) * left.d, left.covered, left.entrywise)
        return scaled if k >= 0 else scaled.outside()

    def _Call(self, node) -> Degree:
        fn = node.fn
        if fn in ("eye", "zeros"):
            return ZERO
        if fn == "commutation":
            return ZERO.outside()
        if fn == "ones":
            return Degree(1)
        total = ZERO
        for arg in node.args:
            total = total + self(arg)
        if fn == "tr":
            return total
        if fn in ("sum", "mean"):  # sum(A) = ones.T*A*ones: a trace polynomial
            return total if all(self.scalar(a) for a in node.args) else total + Degree(2)
        if fn in ("expm", "logm"):  # power series: sizes up to the heuristic cap
            return Degree(4 * max(total.d, 1), False, total.entrywise)
        if fn in OUTSIDE:
            return total.outside(fn in ENTRYWISE)
        # every other function is elementwise (log, exp, ...): outside, entrywise on arrays
        return total.outside(not all(self.scalar(a) for a in node.args))


@dataclass(frozen=True)
class Bound:
    """The degree bound of one identity and what it means."""

    degree: int  # d, the largest factor count of a term of the claim
    bound: int  # the size every name must reach once
    covered: bool  # the theorem applies: the identity can be *proved*

    @property
    def cap(self) -> int:
        return EXACT_CAP if self.covered else HEURISTIC_CAP

    @property
    def exact_size(self) -> int:
        return min(self.bound, self.cap)

    @property
    def capped(self) -> bool:
        return self.bound > self.cap


def degree_bound(prep, forms) -> Bound:
    """The bound of catalog-format.md for `of` against the given forms."""
    from matderiv.lang.shapes import ShapeEnv, infer

    def scalar_in(layout):
        env = ShapeEnv(prep.decls, prep.identity.wrt, layout)
        return lambda node: is_scalar(infer(node, env))

    claim = _Counter(prep.decls, scalar_in(None))(prep.of)
    wrt_factor = 0 if prep.wrt.kind == "scalar" else 1
    for form in forms:
        if form.zero:
            continue
        count = _Counter(prep.decls, scalar_in(form.name))(form.tree)
        if form.name == "hessian":  # d²f = dxᵀ H dx: two factors d<wrt>
            count = count + Degree(2 * wrt_factor)
        elif form.name != "differential":
            count = count + Degree(wrt_factor)
        claim = claim.join(count)
    bound = claim.d if is_scalar(prep.of_shape) else claim.d + 1
    if claim.entrywise:
        bound *= 2
    numbers = size_number_degrees([prep.of] + [f.tree for f in forms], shape_function(prep))
    return Bound(claim.d, max(bound, 2), claim.covered and not numbers)


def shape_function(prep):
    """node -> shape in the identity (for mean's argument, in `of` or any form)."""
    from matderiv.lang.shapes import ShapeEnv, infer

    env = ShapeEnv(prep.decls, prep.identity.wrt, None)

    def shape_of(node):
        return infer(node, env)

    return shape_of


# ---------------------------------------------------------------- assignments


def _values(start: int, count: int, avoid: frozenset) -> list[int]:
    """`count` increasing values from `start`, none equal to a literal size: an n that
    equals a declared 3 could hide a lost transpose in a square shape."""
    out, value = [], start
    while len(out) < count:
        if value not in avoid:
            out.append(value)
        value += 1
    return out


def exact_assignments(names: list[str], bound: Bound,
                      avoid: frozenset = frozenset()) -> list[dict]:
    """Two assignments: small ascending, and every size ≥ the bound, descending.

    Different names get different values in each, and none the value of a literal size
    of the identity; each pair of names appears in both orders between the two; the
    second reaches the bound (up to the cap)."""
    k = len(names)
    if k == 0:
        return [{}, {}]
    small = dict(zip(names, _values(2, k, avoid)))
    low = max(bound.exact_size, 2 if k > 1 else 3)
    large = dict(zip(names, reversed(_values(low, k, avoid))))
    if large == small:
        large = dict(zip(names, _values(max(small.values()) + 1, k, avoid)))
    return [small, large]


def numeric_assignment(names: list[str], bound: Bound, earlier: list[dict],
                       seed: int, avoid: frozenset = frozenset()) -> dict:
    """Every size ≥ max(bound, NUMERIC_FLOOR), distinct, drawn per identity; each name
    takes the parity it had least often so far, so a claim true only for odd or only for
    even sizes cannot pass."""
    if not names:
        return {}
    rng = random.Random(seed)
    cap = NUMERIC_CAP if bound.covered else HEURISTIC_NUMERIC_CAP
    base = min(max(bound.bound, NUMERIC_FLOOR), cap)
    taken: set[int] = set()
    out = {}
    for name in rng.sample(names, len(names)):
        odd = sum(a[name] % 2 for a in earlier) if earlier else rng.randrange(2)
        want = 1 if odd < len(earlier) - odd else 0 if earlier else odd
        value = base + rng.randrange(3)
        while value in taken or value in avoid or value % 2 != want:
            value += 1
        taken.add(value)
        out[name] = value
    return dict(sorted(out.items()))


# ---------------------------------------------------------------- sizes used as numbers

MAX_SIZE_VALUES = 8  # values tried for a size that enters as a number


def size_number_degrees(trees, shape_of=None) -> dict[str, int]:
    """How often each size name can enter a claim as a number (tr(eye(n)) = n,
    ones(n).T*ones(n) = n, and in format 1.1 a size name standing for its value, `sum(X)/m`,
    and `mean(X)`, which divides by the sizes of X): the uses naming it, times the powers
    above them. Such a claim is a function of n itself, which the degree bound does not
    settle. `shape_of(node)` gives the shape of mean's argument (its sizes are counted)."""
    found: dict[str, int] = {}

    def count(name, times):
        found[name] = found.get(name, 0) + times

    def walk(node, times: int) -> None:
        if isinstance(node, E.Call) and node.fn in ("eye", "ones", "commutation"):
            for arg in node.args:
                if isinstance(arg, E.Size):
                    count(arg.name, times)
            return
        if isinstance(node, E.Size):
            count(node.name, times)
            return
        if isinstance(node, E.Call) and node.fn == "mean" and shape_of is not None:
            try:
                shape = shape_of(node.args[0])
            except Exception:  # noqa: BLE001 - a form whose shapes do not fit counts nothing
                shape = ()
            for dim in shape:
                for s in getattr(dim, "free_symbols", ()):
                    count(str(s), times)
        k = integer_exponent(node.right) if isinstance(node, E.Bin) and node.op == "**" else None
        for child in E.children(node):
            walk(child, times * abs(k) if k and child is node.left else times)

    for tree in trees:
        walk(tree, 1)
    return found


def exact_number_assignments(names: list[str], earlier: list[dict], numbers: dict[str, int],
                             avoid: frozenset = frozenset()) -> list[dict]:
    """Extra exact assignments where a size enters as a number (format 1.1): the last
    earlier assignment (every size at least the bound) with each size so used moved to a
    new value, twice, so each takes three or more values at least the bound in the exact
    check; the other sizes keep theirs, and the names of one assignment stay distinct."""
    if not numbers or not names or not earlier:
        return []
    base = earlier[-1]
    seen = {name: {a[name] for a in earlier} for name in names}
    out = []
    ordered = sorted(names, key=lambda n: base[n])
    values = [base[n] for n in ordered]
    for turn in (1, 2):  # the same values rotated among the names: no size grows
        if turn >= len(names):
            break
        row = dict(zip(ordered, values[turn:] + values[:turn]))
        if all(row[n] not in seen[n] for n in numbers if n in row):
            for n in row:
                seen[n].add(row[n])
            out.append(row)
    while len(out) < 2:  # too few names to rotate: move the sizes used as numbers up
        row = dict(base)
        for name in sorted(n for n in numbers if n in row):
            others = {v for k, v in row.items() if k != name}
            value = base[name] + 1
            while value in avoid or value in others or value in seen[name]:
                value += 1
            row[name] = value
            seen[name].add(value)
        out.append(row)
    return out


def number_assignments(names: list[str], bound: Bound, numbers: dict[str, int],
                       seed: int, avoid: frozenset = frozenset()) -> list[dict]:
    """Extra numeric assignments for sizes used as numbers: enough distinct values of each
    (more than the number of times it enters, at least three, at most MAX_SIZE_VALUES),
    drawn per identity from a range wide enough that a polynomial in n chosen to vanish on
    the tried values cannot guess them; both parities. The other names keep small distinct
    values, so the extra checks stay cheap."""
    if not numbers:
        return []
    rng = random.Random(seed ^ 0x5EED)
    count = min(max(3, max(numbers.values()) + 2), MAX_SIZE_VALUES)
    base = min(max(bound.bound, NUMERIC_FLOOR), HEURISTIC_NUMERIC_CAP)
    varied = [n for n in names if n in numbers]
    fixed = [n for n in names if n not in numbers]
    pool = [v for v in range(base, base + 2 * count + 2 * len(varied)) if v not in avoid]
    out = []
    for index in range(count):
        parity = [v for v in pool if v % 2 == index % 2]
        values = rng.sample(parity if len(parity) >= len(varied) else pool, len(varied))
        rest = [v for v in range(2, 2 + len(fixed) + len(values) + len(avoid) + 1)
                if v not in values and v not in avoid][:len(fixed)]
        out.append(dict(sorted({**dict(zip(varied, values)), **dict(zip(fixed, rest))}.items())))
    return out


def equal_assignment(names: list[str], bound: Bound, avoid: frozenset = frozenset()) -> list[dict]:
    """One numeric assignment with every name equal: a claim true only when two sizes
    differ (a product that vanishes unless m = n) must fail too."""
    if len(names) < 2:
        return []
    value = min(max(bound.bound, NUMERIC_FLOOR), HEURISTIC_NUMERIC_CAP)
    while value in avoid:
        value += 1
    return [dict.fromkeys(names, value)]


# ---------------------------------------------------------------- format 1.2

INTEGER_VALUES = (0, 1, 2, 3, 5)  # the values of a name declared `integer`
NEGATIVE_VALUES = (-1, -2)  # also these where every power of it is of an invertible base


def integer_values(prep) -> dict[str, tuple]:
    """The values each integer name takes: INTEGER_VALUES, and NEGATIVE_VALUES too where
    every power whose exponent holds an integer name has a base that a negative power
    cannot leave undefined: a matrix declared invertible (positive-definite, orthogonal)
    or a scalar declared positive or nonzero."""
    if not prep.integers:
        return {}
    safe = {"invertible", "positive-definite", "orthogonal"}
    trees = [prep.of] + [f.tree for f in prep.forms.values()]
    negative = True
    for tree in trees:
        for node in E.walk(tree):
            if isinstance(node, E.Bin) and node.op == "**" and symbolic_integer(node.right):
                base = node.left
                decl = prep.decls.get(base.name) if isinstance(base, E.Sym) else None
                ok = decl is not None and (decl.props & safe or decl.kind == "scalar"
                                           and decl.props & {"positive", "nonzero"})
                negative = negative and bool(ok)
    values = INTEGER_VALUES + (NEGATIVE_VALUES if negative else ())
    return {name: values for name in sorted(prep.integers)}


def with_integers(assignments: list[dict], values: dict[str, tuple]) -> list[dict]:
    """Each assignment once per value of the integer names (several names: their values
    rotated against each other, so every value of each name is tried)."""
    if not values:
        return assignments
    names = sorted(values)
    count = max(len(v) for v in values.values())
    out = []
    for sizes in assignments:
        for turn in range(count):
            row = dict(sizes)
            for offset, name in enumerate(names):
                row[name] = values[name][(turn + offset) % len(values[name])]
            out.append(row)
    return out


def honour(sizes: dict, conditions, avoid: frozenset = frozenset()) -> dict:
    """The assignment with its values moved so that every condition holds (format 1.2).

    The names are ordered by a topological sort of the conditions that keeps the
    assignment's own order wherever the conditions leave it free, and take its values in
    that order, so the pairs the conditions leave free keep the orders the size rule chose;
    a lower bound, or a strict condition between names with equal values, moves a value up
    (and the names after it, so different names keep different values)."""
    if not conditions:
        return sizes
    names = [n for n in sizes if any(n in (c.big, c.small) for c in conditions)]
    above = {n: [c for c in conditions if c.big == n] for n in names}
    placed: list[str] = []
    todo = sorted(names, key=lambda n: (sizes[n], n))
    while todo:
        ready = next(n for n in todo if all(not isinstance(c.small, str) or c.small in placed
                                           for c in above[n]))
        placed.append(ready)
        todo.remove(ready)
    values = sorted(sizes[n] for n in names)
    distinct = len(set(values)) == len(values)
    out = dict(sizes)
    out.update(zip(placed, values))
    taken = {v for k, v in out.items() if k not in names}
    previous = None
    for name in placed:
        value = out[name]
        for c in above[name]:
            low = c.small if isinstance(c.small, int) else out[c.small]
            value = max(value, low + 1 if c.strict else low)
        if distinct and previous is not None:
            value = max(value, previous + 1)
        while distinct and (value in avoid or value in taken):
            value += 1
        out[name] = previous = value
    return out
