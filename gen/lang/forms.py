"""One identity, read: declarations and expressions parsed, shapes checked, the missing
layout forms derived.

The derived forms (the other layout, the differential) are built here by pushing
transposes through the tree, and then verified like the given ones, so a rendering can
never show an unchecked formula.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from matderiv.catalog.load import Identity
from matderiv.catalog.schema import ELEMENTWISE, FUNCTIONS, LATER_FUNCTIONS, TENSOR_CATEGORIES
from matderiv.errors import CODES, CatalogError, Problem, problem
from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.lang.shapes import integer_exponent


@dataclass
class Form:
    name: str  # numerator, denominator, vec, vec_denominator, differential
    tree: object
    given: bool
    expected: tuple | None  # the 2-D shape of its layout (None: the layout has > 2 axes)
    shape: tuple

    @property
    def text(self) -> str:
        return E.to_text(self.tree)

    @property
    def zero(self) -> bool:
        """The literal 0 stands for the zero array of whatever shape the layout has."""
        return is_zero(self.tree)

    @property
    def shape_ok(self) -> bool:
        return self.expected is not None and (self.zero or self.expected == self.shape)


@dataclass
class Prepared:
    identity: Identity
    decls: dict = field(default_factory=dict)
    of: object = None
    of_shape: tuple = ()
    category: str = ""
    forms: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    refutations: list = field(default_factory=list)  # (code, message, key) of an erratum
    nonlinear: bool = False  # the given differential is not linear in the differentials
    integers: frozenset = frozenset()  # names declared `integer` (format 1.2), not in decls
    conditions: list = field(default_factory=list)  # Condition, from `conditions` (1.2)

    @property
    def wrt(self):
        return self.decls[self.identity.wrt]

    @property
    def keep_x(self) -> bool:
        """A variable declared `matrix` keeps its length-one axes in every layout."""
        return self.wrt.kind == "matrix"

    @property
    def tensor(self) -> bool:
        return self.category in TENSOR_CATEGORIES

    @property
    def invalid(self) -> bool:
        return any(p.makes_invalid for p in self.problems)


def prepare(ident: Identity) -> Prepared:
    """Read as far as the identity allows, so that every problem is reported at once."""
    prep = Prepared(ident, problems=list(ident.problems))
    _declarations(prep)
    readable = ident.of is not None and ident.wrt in prep.decls and not any(
        p.code in ("E120", "E121", "E122") for p in prep.problems)
    if readable:
        _expressions(prep)
    if not prep.invalid:
        _derive(prep)
    return prep


def _add(prep: Prepared, code: str, key: str, **fields) -> None:
    ident = prep.identity
    prep.problems.append(problem(code, ident.file, ident.line_of(key), **fields))


def _declarations(prep: Prepared) -> None:
    ident = prep.identity
    for name, text in ident.symbols.items():
        key = f"symbols.{name}"
        if not S.SYMBOL_NAME.fullmatch(name) or keyword.iskeyword(name) or len(name) > 24:
            _add(prep, "E121", key, name=name[:40], detail="use letters and digits, starting "
                 "with a letter, at most 24 characters")
            continue
        if name in FUNCTIONS and name not in LATER_FUNCTIONS or name == "T":
            _add(prep, "E121", key, name=name, detail="it is the name of a function")
            continue
        if isinstance(text, str) and text.split()[:1] == ["integer"]:
            _integer(prep, name, text, key)
            continue
        try:
            prep.decls[name] = S.parse_declaration(name, text)
        except ValueError as exc:
            _add(prep, "E120", key, name=name, detail=str(exc))
    if prep.invalid:
        return
    sizes = {s for d in prep.decls.values() for s in d.size_names}
    for name in sorted(prep.integers & sizes):
        _add(prep, "E121", f"symbols.{name}", name=name, detail="it is also used as a size")
    for name, decl in prep.decls.items():
        key = f"symbols.{name}"
        if name in sizes:
            _add(prep, "E121", key, name=name, detail="it is also used as a size")
        elif name.startswith("d") and name[1:] in prep.decls:
            _add(prep, "E121", key, name=name, detail=f"it reads as the differential of "
                 f"`{name[1:]}`")
        elif decl.depends_on is not None and decl.depends_on != ident.wrt:
            _add(prep, "E120", key, name=name, detail=f"`of {decl.depends_on}`: a symbol can "
                 f"depend only on the variable `{ident.wrt}`")
    wrt = prep.decls.get(ident.wrt)
    if ident.wrt and (wrt is None or wrt.kind == "function" or wrt.depends_on):
        _add(prep, "E122", "wrt", detail=f"`{ident.wrt}`")


def _integer(prep: Prepared, name: str, text: str, key: str) -> None:
    """`k: integer` (format 1.2): a symbolic integer, a lower-case name like a size."""
    if text.split() != ["integer"]:
        _add(prep, "E120", key, name=name, detail="`integer` takes no size, property or `of`")
    elif not S.SIZE_NAME.fullmatch(name):
        _add(prep, "E120", key, name=name, detail="an integer's name is lower case, as a "
             "size's (`k`, `p2`)")
    else:
        prep.integers = prep.integers | {name}


def context(prep: Prepared, where: str, **flags) -> E.Context:
    """What names mean in one key of the identity (its symbols, functions, sizes)."""
    decls = prep.decls
    return E.Context(
        symbols=frozenset(n for n, d in decls.items() if d.kind != "function"),
        functions=frozenset(n for n, d in decls.items() if d.kind == "function"),
        sizes=frozenset(s for d in decls.values() for s in d.size_names) | prep.integers,
        wrt=prep.identity.wrt,
        dependent=frozenset(n for n, d in decls.items() if d.depends_on),
        where=where, integers=prep.integers, **flags,
    )


def _read(prep: Prepared, text: str, key: str, layout: str | None = None, **flags):
    """Parse and shape one expression; problems are recorded, None returned.

    In an erratum, a published form whose shapes do not fit is a refutation, not a
    malformed entry: it is kept as a failure of that form.
    """
    try:
        tree = E.parse(text, context(prep, key, **flags))
        shape = S.infer(tree, S.ShapeEnv(prep.decls, prep.identity.wrt, layout, key))
        return tree, shape
    except CatalogError as exc:
        if exc.code.startswith("E3") and key != "of" and prep.identity.status == "erratum":
            prep.refutations.append(("E406", CODES["E406"].format(form=key, detail=str(exc)),
                                     key))
        else:
            _add(prep, exc.code, key, **exc.fields)
        return None, None


def _expressions(prep: Prepared) -> None:
    ident = prep.identity
    prep.of, prep.of_shape = _read(prep, ident.of, "of")
    if prep.of is None:
        return
    prep.category = S.category(prep.of_shape, prep.wrt.shape, prep.keep_x)
    for name in ("numerator", "denominator", "vec", "symmetric_tied"):
        text = ident.derivative.get(name)
        if text is None:
            continue
        key = f"derivative.{name}"
        tree, shape = _read(prep, text, key, name, diffs=True)
        if tree is not None:
            prep.forms[name] = Form(name, tree, True, _expected(prep, name), shape)
    if ident.differential is not None:
        tree, shape = _read(prep, ident.differential, "differential", differentials=True)
        if tree is not None:
            # a differential of another shape than `of` is a wrong form (failed), as a
            # layout form of the wrong shape is
            prep.forms["differential"] = Form("differential", tree, True, prep.of_shape, shape)
            prep.nonlinear = differential_degree(tree) > 1
    if "symmetric_tied" in prep.forms:
        _symmetric_tied(prep)
    if ident.hessian is not None:
        _hessian(prep)
    _required_forms(prep)
    _conditions(prep)


def _symmetric_tied(prep: Prepared) -> None:
    """The derivative with X_ij and X_ji one variable exists only by a symmetric matrix."""
    if prep.category != "scalar-by-matrix" or not prep.wrt.props & {"symmetric",
                                                                     "positive-definite"}:
        _add(prep, "E126", "derivative.symmetric_tied", detail=f"a scalar `of` and a variable "
             f"declared `symmetric` or `positive-definite` (here a {prep.category} identity, "
             f"`{prep.identity.wrt}: {prep.wrt.text}`)")


def _hessian(prep: Prepared) -> None:
    """`hessian` (format 1.2): the matrix of second derivatives of a scalar `of`."""
    ident = prep.identity
    if not S.is_scalar(prep.of_shape):
        _add(prep, "E123", "hessian", detail=f"`of` must be a scalar, not {S.show(prep.of_shape)}")
        return
    if any(d.depends_on or d.kind == "function" for d in prep.decls.values()):
        _add(prep, "E123", "hessian", detail="no symbol may depend on the variable and no "
             "generic function may appear (their second derivatives are not stated)")
        return
    tree, shape = _read(prep, ident.hessian, "hessian", "hessian")
    if tree is not None:
        side = S.numel(prep.wrt.shape)
        prep.forms["hessian"] = Form("hessian", tree, True, (side, side), shape)


@dataclass(frozen=True)
class Condition:
    """`m >= n` read: `big` ≥ `small` (> when strict); `small` may be an integer."""

    text: str
    big: str
    small: str | int
    strict: bool


_CONDITION = re.compile(r"\s*([a-z][a-z0-9]*|[0-9]{1,4})\s*(>=|<=|==|>|<)\s*"
                        r"([a-z][a-z0-9]*|[0-9]{1,4})\s*")


def _conditions(prep: Prepared) -> None:
    """`conditions` (format 1.2): comparisons of sizes, which the assignments honour."""
    sizes = {s for d in prep.decls.values() for s in d.size_names}
    read = []
    for text in prep.identity.conditions:
        match = _CONDITION.fullmatch(text)
        if not match:
            _add(prep, "E124", "conditions", text=text, detail="write `NAME OP NAME` or `NAME "
                 "OP INTEGER` with OP one of >= > <= <")
            continue
        left, op, right = match.groups()
        written = f"{left} {op} {right}"  # as written, spaced one way (the record shows it)
        if op in ("<=", "<"):
            left, right, op = right, left, op.replace("<", ">")
        unknown = [t for t in (left, right) if not t.isdigit() and t not in sizes]
        if unknown:
            _add(prep, "E124", "conditions", text=text, detail=f"`{unknown[0]}` is not a size "
                 "of any declaration")
        elif op == "==":
            _add(prep, "E124", "conditions", text=text, detail="equal sizes: declare one size "
                 "name for both")
        elif left.isdigit():
            _add(prep, "E124", "conditions", text=text, detail="an upper bound by an integer is "
                 "not supported: declare the size as that integer")
        else:
            read.append(Condition(written, left, int(right) if right.isdigit() else right,
                                  op == ">"))
    cycle = _cycle(read)
    if cycle:
        _add(prep, "E125", "conditions", detail=f"{' and '.join(cycle)} cannot all hold with "
             "different sizes")
    else:
        prep.conditions = read


def _cycle(conditions: list) -> list[str]:
    """The texts of conditions that form a cycle among size names, or []: no assignment of
    distinct sizes satisfies them (`m >= n` with `n >= m` means one size)."""
    edges: dict = {}
    for c in conditions:
        if c.big == c.small:
            return [c.text]
        if isinstance(c.small, str):
            edges.setdefault(c.big, []).append(c)
    state: dict = {}

    def visit(name, path):
        state[name] = 1
        for c in edges.get(name, []):
            if state.get(c.small) == 1:
                return path + [c.text]
            if c.small not in state:
                found = visit(c.small, path + [c.text])
                if found:
                    return found
        state[name] = 2
        return []

    for name in list(edges):
        if name not in state:
            found = visit(name, [])
            if found:
                return found
    return []


_LINEAR_CALLS = {"tr", "vec", "diag", "kron", "hadamard"}
NONLINEAR = 99


def differential_degree(node) -> int:
    """The largest degree of a term in the differentials (dX, dU); NONLINEAR marks a
    differential inside a nonlinear function. Above 1 the form is not linear; a part of
    degree 0 is allowed here (it may cancel, as in `X - X`) and checked at each point."""
    return _DifferentialDegree().visit(node)


class _DifferentialDegree(E.Visitor):
    def _Differential(self, node) -> int:
        return 1

    def _Num(self, node) -> int:
        return 0

    _Size = _Const = _Sym = _DiffOf = _Num

    def _Neg(self, node) -> int:
        return self.visit(node.arg)

    _Transpose = _Neg

    def _Bin(self, node) -> int:
        left, right = self.visit(node.left), self.visit(node.right)
        if node.op in "+-":
            return max(left, right)
        if node.op == "*":
            return min(left + right, NONLINEAR)
        if right:
            return NONLINEAR
        if node.op == "/" or left == 0:
            return left
        k = integer_exponent(node.right)
        return left if k == 1 else NONLINEAR

    def _Call(self, node) -> int:
        degrees = [self.visit(a) for a in node.args]
        if node.fn in _LINEAR_CALLS:
            return min(sum(degrees), NONLINEAR)
        if node.fn == "hadamard_div" and not degrees[1]:  # linear in its numerator
            return degrees[0]
        return NONLINEAR if any(degrees) else 0

    def _Apply(self, node) -> int:
        return NONLINEAR if self.visit(node.arg) else 0


def zero_array(node) -> bool:
    """0, zeros(...), and their transposes and negations: zero whatever the point."""
    while isinstance(node, E.Neg | E.Transpose):
        node = node.arg
    return is_zero(node) or isinstance(node, E.Call) and node.fn == "zeros"


def is_zero(tree) -> bool:
    """The literal 0, which stands for the zero array of the layout's shape."""
    return isinstance(tree, E.Num) and tree.value == 0


def _expected(prep: Prepared, layout: str):
    return S.layout_shape(prep.of_shape, prep.wrt.shape, layout, prep.keep_x)


def _required_forms(prep: Prepared) -> None:
    ident = prep.identity
    if prep.invalid:
        return
    given = ident.derivative
    if prep.refutations:
        return
    if prep.tensor and ident.differential is None and "vec" not in given:
        _add(prep, "E109", "of", detail=f"a {prep.category} identity needs `differential` "
             "or `derivative.vec` (its derivative has more than two axes)")
    if not prep.tensor and not ({"numerator", "denominator", "symmetric_tied"} & set(given)
                                or ident.hessian is not None):
        _add(prep, "E109", "of", detail="give `derivative.numerator` or "
             "`derivative.denominator`")


# ---------------------------------------------------------------- derived forms


def _derive(prep: Prepared) -> None:
    """Fill in the other layout and the differential where they were not given."""
    if prep.identity.status == "erratum":
        return
    forms = prep.forms
    pairs = (("numerator", "denominator"), ("denominator", "numerator"),
             ("vec", "vec_denominator"))
    for source, target in pairs:
        if source in forms and target not in forms and forms[source].shape_ok:
            tree = flip(forms[source].tree, prep, source)
            shape = S.infer(tree, S.ShapeEnv(prep.decls, prep.identity.wrt, target))
            forms[target] = Form(target, tree, False, _expected(prep, target), shape)
    if "differential" not in forms and "numerator" in forms and forms["numerator"].shape_ok:
        tree = differential_from(forms["numerator"].tree, prep)
        if tree is not None:
            forms["differential"] = Form("differential", tree, False, prep.of_shape,
                                         prep.of_shape)


def differential_from(numerator, prep: Prepared):
    """d(of) = N dX (or tr(N dX) for a scalar by a matrix, (N dx)ᵀ for a row-valued `of`
    by a vector, whose numerator is the Jacobian of the column); None where N holds
    diff(U, x)."""
    if any(isinstance(n, E.DiffOf) for n in E.walk(numerator)):
        return None
    if isinstance(numerator, E.Num) and numerator.value == 0:
        return numerator
    d = E.Differential(prep.identity.wrt)
    if prep.category == "scalar-by-matrix":
        return E.Call("tr", (E.Bin("*", numerator, d),))
    row = prep.of_shape[0] == S.ONE and prep.of_shape[1] != S.ONE
    if row and not S.is_scalar(prep.wrt.shape):
        return E.Transpose(E.Bin("*", numerator, d))
    return E.Bin("*", numerator, d)


def flip(tree, prep: Prepared, layout: str):
    """The transpose of a form, written for the other layout (vec: its transpose)."""
    return _Flipper(prep, layout).push(tree, True)


class _Flipper(E.Visitor):
    """Pushes a pending transpose `t` down the tree: (AB)ᵀ = BᵀAᵀ, scalars and
    symmetric symbols unchanged, f(X)ᵀ = f(Xᵀ) for the functions where that holds."""

    def __init__(self, prep: Prepared, layout: str):
        self.prep = prep
        self.env = S.ShapeEnv(prep.decls, prep.identity.wrt, layout)

    def scalar(self, node) -> bool:
        return S.is_scalar(S.infer(node, self.env))

    def wrap(self, node, t):
        return E.Transpose(node) if t else node

    def push(self, node, t: bool):
        return self.visit(node, t)

    def _Num(self, node, t):
        return node

    _Size = _Const = _Num

    def _Sym(self, node, t):
        decl = self.prep.decls[node.name]
        same = decl.kind == "scalar" or decl.props & {"symmetric", "positive-definite",
                                                      "diagonal"}
        return node if same else self.wrap(node, t)

    _Differential = _Sym

    def _Transpose(self, node, t):
        return self.push(node.arg, not t)

    def _Neg(self, node, t):
        return E.Neg(self.push(node.arg, t))

    def _Apply(self, node, t):
        return E.Apply(node.fn, self.push(node.arg, t), node.order)

    def _DiffOf(self, node, t):
        if self.scalar(node):
            return node
        return node if t else E.Transpose(node)

    def _Bin(self, node, t):
        left, right = node.left, node.right
        if node.op in "+-":
            return E.Bin(node.op, self.push(left, t), self.push(right, t))
        if node.op == "*":
            if t and not (self.scalar(left) or self.scalar(right)):
                return E.Bin("*", self.push(right, t), self.push(left, t))
            return E.Bin("*", self.push(left, t), self.push(right, t))
        if node.op == "/":  # by a scalar, or entry by entry by an array (format 1.2)
            return E.Bin("/", self.push(left, t), self.push(right, t and not self.scalar(right)))
        base_t = t and not self.scalar(left)
        return E.Bin("**", self.push(left, base_t), self.push(right, False))

    def _Call(self, node, t):
        fn, args = node.fn, node.args
        if fn in ("tr", "det", "norm", "sum", "mean", "logsumexp"):
            return E.Call(fn, tuple(self.push(a, False) for a in args))
        if fn in ("inv", "kron", "hadamard") or fn in ELEMENTWISE:
            return E.Call(fn, tuple(self.push(a, t) for a in args))
        if fn in ("expm", "logm", "pinv", "hadamard_div"):  # f(X)ᵀ = f(Xᵀ) (format 1.2)
            return E.Call(fn, tuple(self.push(a, t) for a in args))
        if fn == "hadamard_pow":
            return E.Call(fn, (self.push(args[0], t), self.push(args[1], False)))
        if fn == "eye":
            return node
        if fn in ("ones", "zeros"):
            if len(args) == 2:
                return E.Call(fn, args[::-1]) if t else node
            return self.wrap(node, t)
        if fn == "diag" and S.infer(node, self.env)[1] != S.ONE:  # vector -> diagonal matrix
            return E.Call(fn, (self.push(args[0], False),))
        return self.wrap(E.Call(fn, tuple(self.push(a, False) for a in args)), t)
