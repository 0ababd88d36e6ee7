"""Declarations, shape inference with symbolic sizes, the nine categories, the layout rule.

Shapes are pairs of SymPy expressions (a scalar is 1 x 1, a vector n x 1), so that `n*m`
from a Kronecker product compares equal to `m*n` and a lost transpose between an n x m and
an m x n result is caught before any number is drawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce

import sympy
from matderiv.catalog.schema import ELEMENTWISE, PROPERTIES, SQUARE_PROPERTIES
from matderiv.errors import CatalogError
from matderiv.lang import expr as E

ONE = sympy.Integer(1)
SIZE_NAME = re.compile(r"[a-z][a-z0-9]*")
SYMBOL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
MAX_INT_SIZE = 1024  # a literal size; what it costs to check is the budget's to judge (E210)
VECTOR_PROPERTIES = {"probability"}  # not on a scalar
DEPENDENT_PROPERTIES = {"symmetric", "skew-symmetric", "diagonal", "invertible",
                        "positive-definite", "positive", "nonzero"}


@dataclass(frozen=True)
class Decl:
    name: str
    kind: str  # scalar, vector, matrix, function
    shape: tuple  # (rows, cols) of sympy expressions; () for a function
    props: frozenset
    depends_on: str | None
    text: str

    @property
    def size_names(self) -> set[str]:
        return {str(s) for dim in self.shape for s in dim.free_symbols}


def size(token: str):
    if SIZE_NAME.fullmatch(token):
        return sympy.Symbol(token, positive=True, integer=True)
    if token.isdigit() and len(token) <= 5 and 1 <= int(token) <= MAX_INT_SIZE:
        return sympy.Integer(int(token))
    raise ValueError(f"`{token}` is not a size (a lower-case name or an integer 1..{MAX_INT_SIZE})")


def parse_declaration(name: str, text: str) -> Decl:
    """`matrix n n symmetric of t` -> Decl; ValueError with a plain message otherwise."""
    words = text.split()
    if not words or words[0] not in ("scalar", "vector", "matrix", "function"):
        raise ValueError("it must start with scalar, vector, matrix or function")
    kind, rest = words[0], words[1:]
    depends_on = None
    if len(rest) >= 2 and rest[-2] == "of":
        depends_on, rest = rest[-1], rest[:-2]
    count = {"scalar": 0, "vector": 1, "matrix": 2, "function": 0}[kind]
    if len(rest) < count:
        raise ValueError(f"a {kind} needs {count} size{'s' if count > 1 else ''}")
    dims = [size(t) for t in rest[:count]]
    props = rest[count:]
    for prop in props:
        if prop not in PROPERTIES:
            raise ValueError(f"unknown property `{prop}`")
    shape = {"scalar": (ONE, ONE), "vector": (dims[0], ONE) if dims else (),
             "matrix": tuple(dims), "function": ()}[kind]
    _check_properties(kind, shape, set(props), depends_on)
    return Decl(name, kind, shape, frozenset(props), depends_on, text)


def _check_properties(kind, shape, props, depends_on):
    if kind == "function" and (props or depends_on):
        raise ValueError("a generic function takes no properties and no `of`")
    if props & VECTOR_PROPERTIES and kind not in ("vector", "matrix"):
        raise ValueError("`probability` needs a vector or a matrix (a row per label), not a "
                         f"{kind}")
    square = props & SQUARE_PROPERTIES
    if square and (kind != "matrix" or shape[0] != shape[1]):
        raise ValueError(f"`{sorted(square)[0]}` needs a square matrix")
    if {"symmetric", "skew-symmetric"} <= props or {"positive-definite", "skew-symmetric"} <= props:
        raise ValueError("symmetric and skew-symmetric together leave only zero")
    if depends_on and props - DEPENDENT_PROPERTIES:
        raise ValueError(f"`{sorted(props - DEPENDENT_PROPERTIES)[0]}` is not supported on a "
                         "symbol that depends on the variable")


# ---------------------------------------------------------------- the layout rule


def axes(shape, keep: bool = False) -> list:
    """The axes that count: length-one axes of a vector's or a scalar's shape are dropped;
    a variable declared `matrix` keeps both of its axes (`keep`), even of length one."""
    return list(shape) if keep else [s for s in shape if s != ONE]


def kind_of(shape, keep: bool = False) -> str:
    return "matrix" if keep else ("scalar", "vector", "matrix")[min(len(axes(shape)), 2)]


def category(of_shape, wrt_shape, keep_x: bool = False) -> str:
    return f"{kind_of(of_shape)}-by-{kind_of(wrt_shape, keep_x)}"


def layout_shape(y_shape, x_shape, layout: str, keep_x: bool = False):
    """The 2-D shape of a form in `layout`, or None where the array has more axes.
    `keep_x`: the variable is a declared matrix, whose length-one axes count."""
    if layout in ("vec", "vec_denominator"):
        shape = (y_shape[0] * y_shape[1], x_shape[0] * x_shape[1])
        return shape if layout == "vec" else shape[::-1]
    ya, xa = axes(y_shape), axes(x_shape, keep_x)
    if not xa:  # by a scalar: the shape of Y itself (a row stays a row)
        shape = (y_shape[0], y_shape[1])
        return shape if layout in ("numerator", "differential") else (shape[1], shape[0])
    total = ya + xa[::-1]
    if len(total) > 2:
        return None
    if len(total) == 2:
        shape = (total[0], total[1])
    elif len(total) == 1:
        shape = (total[0], ONE) if ya else (ONE, total[0])
    else:
        shape = (ONE, ONE)
    return shape if layout in ("numerator", "differential") else (shape[1], shape[0])


def show(shape) -> str:
    return " × ".join(str(s) for s in shape)


# ---------------------------------------------------------------- inference


@dataclass
class ShapeEnv:
    decls: dict  # name -> Decl
    wrt: str
    layout: str | None = None  # the layout of the form being checked (for diff(U, x))
    where: str = "of"
    visit: object = None  # called with (node, shape) for every node, children first

    def fail(self, code, **fields):
        raise CatalogError(code, where=self.where, **fields)


def is_scalar(shape) -> bool:
    return shape[0] == ONE and shape[1] == ONE


def is_vector(shape) -> bool:
    """A column or a row vector (one axis of length one, the other not)."""
    return (shape[0] == ONE) != (shape[1] == ONE)


def integer_exponent(node, sizes: dict | None = None) -> int | None:
    """The value of an integer literal exponent; with `sizes` (the values of the names
    declared `integer`, format 1.2) also of an exponent such as `k - 1` or `2*k`."""
    if isinstance(node, E.Num) and node.value.denominator == 1:
        return int(node.value)
    if isinstance(node, E.Neg) and isinstance(node.arg, E.Num) and node.arg.value.denominator == 1:
        return -int(node.arg.value)
    if sizes is not None and symbolic_integer(node):
        return _integer_value(node, sizes)
    return None


def symbolic_integer(node) -> bool:
    """An exponent built from integer literals and names with + - * that holds a name: the
    parser lets only names declared `integer` into an exponent (format 1.2)."""
    def integral(n) -> bool:
        if isinstance(n, E.Num):
            return n.value.denominator == 1
        if isinstance(n, E.Size):
            return True
        if isinstance(n, E.Neg):
            return integral(n.arg)
        return isinstance(n, E.Bin) and n.op in "+-*" and integral(n.left) and integral(n.right)

    return integral(node) and any(isinstance(n, E.Size) for n in E.walk(node))


def _integer_value(node, sizes: dict) -> int:
    if isinstance(node, E.Num):
        return int(node.value)
    if isinstance(node, E.Size):
        return int(sizes[node.name])
    if isinstance(node, E.Neg):
        return -_integer_value(node.arg, sizes)
    left, right = _integer_value(node.left, sizes), _integer_value(node.right, sizes)
    return {"+": left + right, "-": left - right, "*": left * right}[node.op]


def infer(node, env: ShapeEnv):
    """The shape of an expression; CatalogError (E3xx) where the shapes do not fit."""
    return _Shapes(env).visit(node)


class _Shapes(E.Visitor):
    """One method a kind of node, each returning the node's shape (rows, cols) with
    sizes as names or numbers; `env.visit` sees every node with its shape, children
    first (the budget's estimate counts intermediates this way)."""

    def __init__(self, env: ShapeEnv):
        self.env = env

    def visit(self, node):
        shape = super().visit(node)
        if self.env.visit is not None:
            self.env.visit(node, shape)
        return shape

    def _Num(self, node):
        return (ONE, ONE)

    _Size = _Const = _Num

    def _Sym(self, node):
        return self.env.decls[node.name].shape

    _Differential = _Sym

    def _Neg(self, node):
        return self.visit(node.arg)

    _Apply = _Neg

    def _Transpose(self, node):
        r, c = self.visit(node.arg)
        return (c, r)

    def _Bin(self, node):
        env = self.env
        left, right = self.visit(node.left), self.visit(node.right)
        if node.op in "+-":
            shape = broadcast(left, right)
            if shape is None:
                env.fail("E301", left=show(left), right=show(right))
            return shape
        if node.op == "*":
            if is_scalar(left):
                return right
            if is_scalar(right):
                return left
            if left[1] != right[0]:
                env.fail("E300", left=show(left), right=show(right))
            return (left[0], right[1])
        if node.op == "/":
            if not is_scalar(right) and left != right:
                env.fail("E303", detail=f"`/` divides by a scalar, or entry by entry an array "
                         f"of the same shape (format 1.2), not {show(left)} by {show(right)}")
            return left
        return _power(node, left, right, env)

    def _Call(self, node):
        fn, args, env = node.fn, node.args, self.env
        if fn in ("eye", "ones", "zeros", "commutation"):
            dims = [_size_value(a) for a in args]
            if fn == "commutation":
                return (dims[0] * dims[1], dims[0] * dims[1])
            if fn == "eye":
                return (dims[0], dims[0])
            return (dims[0], ONE) if len(dims) == 1 else (dims[0], dims[1])
        shapes = [self.visit(a) for a in args]
        first = shapes[0]
        if fn in ELEMENTWISE:
            return first
        if fn in ("tr", "det", "inv", "expm", "logm"):
            if first[0] != first[1]:
                env.fail("E302", name=fn, expected="a square matrix", got=show(first))
            return first if fn in ("inv", "expm", "logm") else (ONE, ONE)
        return _CALLS[fn](fn, shapes, env)

    def _DiffOf(self, node):
        decls, env = self.env.decls, self.env
        wrt = decls[node.wrt]
        shape = layout_shape(decls[node.name].shape, wrt.shape, env.layout,
                             wrt.kind == "matrix")
        if shape is None:
            env.fail("E303", detail=f"diff({node.name}, {node.wrt}) has more than two axes, "
                     "so it cannot stand in a matrix formula")
        return shape


def broadcast(left, right):
    """The shape of left ± right (format 1.1 broadcasting), or None where they do not fit:
    equal shapes; a scalar and an array; a row 1 × q and an m × q matrix; a column m × 1
    and an m × q matrix. A column plus a row stays a mismatch."""
    if left == right:
        return left
    if is_scalar(left):
        return right
    if is_scalar(right):
        return left
    for small, big in ((left, right), (right, left)):
        if small[0] == ONE and small[1] == big[1] and big[0] != ONE:
            return big
        if small[1] == ONE and small[0] == big[0] and big[1] != ONE:
            return big
    return None


def _power(node, left, right, env):
    if not is_scalar(right):
        env.fail("E303", detail="an exponent must be a scalar")
    if is_scalar(left) or is_vector(left):  # a vector's power is entry by entry (1.2)
        return left
    if left[0] != left[1]:
        env.fail("E303", detail=f"only a square matrix has powers, not {show(left)} (for "
                 "the entry-by-entry power write hadamard_pow)")
    if integer_exponent(node.right) is None and not symbolic_integer(node.right):
        env.fail("E303", detail="a matrix power needs an integer exponent (a literal, or "
                 "names declared `integer` with + - *)")
    return left


def _size_value(node):
    return node.value.numerator if isinstance(node, E.Num) else size(node.name)


def _softmax(fn, shapes, env):
    r, c = shapes[0]
    if (r == ONE) == (c == ONE):
        env.fail("E302", name=fn, expected="a column or a row vector", got=show(shapes[0]))
    return shapes[0]


def _softmax_rows(fn, shapes, env):
    r, c = shapes[0]
    if c == ONE:
        env.fail("E302", name=fn, expected="a matrix or a row vector", got=show(shapes[0]))
    return shapes[0]


def _to_scalar(fn, shapes, env):
    return (ONE, ONE)


def _logsumexp(fn, shapes, env):
    if is_scalar(shapes[0]):
        env.fail("E302", name=fn, expected="a vector or a matrix", got=show(shapes[0]))
    return (ONE, ONE)


def _norm(fn, shapes, env):
    return (ONE, ONE)


def _kron(fn, shapes, env):
    (a, b), (c, d) = shapes
    return (a * c, b * d)


def _hadamard(fn, shapes, env):
    if shapes[0] != shapes[1]:
        env.fail("E302", name=fn, expected="two arrays of one shape",
                 got=f"{show(shapes[0])} and {show(shapes[1])}")
    return shapes[0]


def _pinv(fn, shapes, env):
    r, c = shapes[0]
    return (c, r)


def _hadamard_pow(fn, shapes, env):
    if not is_scalar(shapes[1]):
        env.fail("E302", name=fn, expected="a scalar exponent", got=show(shapes[1]))
    return shapes[0]


def _diag(fn, shapes, env):
    r, c = shapes[0]
    if c == ONE and r != ONE:
        return (r, r)
    if r == c and r != ONE:
        return (r, ONE)
    env.fail("E302", name=fn, expected="a column vector or a square matrix", got=show((r, c)))


def _vec(fn, shapes, env):
    r, c = shapes[0]
    return (r * c, ONE)


_CALLS = {"softmax": _softmax, "log_softmax": _softmax, "softmax_rows": _softmax_rows,
          "sum": _to_scalar, "mean": _to_scalar, "logsumexp": _logsumexp, "norm": _norm,
          "kron": _kron, "hadamard": _hadamard, "diag": _diag, "vec": _vec,
          "pinv": _pinv, "hadamard_pow": _hadamard_pow, "hadamard_div": _hadamard}


def arrange(D, layout: str, y_shape, x_shape, keep_x: bool = False):
    """Lay out a derivative array D[i, j, k, l] = dY[i, j] / dX[k, l] (a NumPy array).

    numerator: axes of Y, then axes of X reversed, length-one axes of the declared shapes
    dropped (by a scalar: the shape of Y itself, so a row stays a row); denominator: that
    transposed; vec: d vec(Y) / d vec(X)^T with columns stacked.
    Returns None where the layout has more than two axes.
    """
    yr, yc, xr, xc = D.shape
    if layout == "symmetric_tied":  # X_ij and X_ji one variable: G + Gᵀ − G∘I (format 1.2)
        G = D[0, 0]
        tied = G + G.T
        for i in range(min(G.shape)):
            tied[i, i] = G[i, i]
        return tied
    if layout in ("vec", "vec_denominator"):
        jac = D.transpose(1, 0, 3, 2).reshape(yr * yc, xr * xc)
        return jac if layout == "vec" else jac.T
    if x_shape[0] == ONE and x_shape[1] == ONE and not keep_x:  # by a scalar: Y's shape
        M = D[:, :, 0, 0]
        return M if layout == "numerator" else M.T
    unit = [s == ONE for s in y_shape] + [s == ONE and not keep_x for s in x_shape]
    flags = [unit[0], unit[1], unit[3], unit[2]]
    N = D.transpose(0, 1, 3, 2)
    keep = [i for i, flag in enumerate(flags) if not flag]
    if len(keep) > 2:
        return None
    N = N.reshape([N.shape[i] for i in keep])
    if len(keep) == 2:
        M = N
    elif len(keep) == 1:
        M = N.reshape(-1, 1) if keep[0] < 2 else N.reshape(1, -1)
    else:
        M = N.reshape(1, 1)
    return M if layout == "numerator" else M.T


def numel(shape):
    """The number of entries of a shape (the side of a vec Jacobian)."""
    return reduce(lambda a, b: a * b, shape, ONE)
