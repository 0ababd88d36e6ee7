""""Check it yourself": for every identity, a short self-contained NumPy program that
re-checks it numerically at a random point, so a reader can rerun the check without
installing matderiv.

The program is generated from the checked parse trees, never from catalog text: every
name in it is a validated symbol, size or function name, every operation comes from a
node type, the expression in its comments is printed back from the tree (so a `# comment`
in the catalog text never reaches it), and the only catalog text in it, the id and the
title, are Python string literals written by repr(). Before it is returned, `audit`
reads the program back with Python's parser and refuses it unless it imports NumPy only,
uses only names it defines or a few harmless builtins, touches no private attribute and
holds no string but those of this module and the two literals.

It draws a point honouring the declared properties at the first size assignment the
verifier uses, differentiates `f` by fourth-order central differences,
lays the derivative out by the format's layout rule and compares every form (given and
derived) to a relative tolerance of 1e-6. It prints "ok" and exits 0, or raises
AssertionError naming the form. For an erratum the program shows that the published
formula is false: it prints what differs and then "ok", and raises AssertionError if
the published formula held after all.

Symbols that depend on the variable (`U: matrix m n of t`) stand in as random nonlinear
functions with a known derivative at the point, generic functions (`g: function`) as
g(a) = c0 + c1 a + c2 sin(c3 a + c4) with random coefficients, as in the verifier.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import zlib

import sympy
from matderiv.errors import CatalogError
from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.lang.forms import Prepared, context, is_zero

TOLERANCE = 1e-6
FORM_ORDER = ("numerator", "denominator", "differential", "vec", "vec_denominator")
FORM_LABELS = {"numerator": "numerator layout", "denominator": "denominator layout",
               "differential": "differential", "vec": "vec (Magnus-Neudecker)",
               "vec_denominator": "vec, denominator layout"}

# Names the program defines itself; a symbol or size spelled like one gets a trailing "_".
# (Catalog names never contain "_", so every name with one is free for the program.)
_OWN = {"np", "rng", "f"}
RESERVED = _OWN | set(dir(builtins)) | set(keyword.kwlist)

_HELPERS = {
    "tr": "def tr(M):\n    return np.array([[np.trace(M)]])",
    "det": "def det(M):\n    return np.array([[np.linalg.det(M)]])",
    "inv": "inv = np.linalg.inv",
    "log": "log = np.log",
    "exp": "exp = np.exp  # elementwise, not the matrix exponential",
    "sqrt": "sqrt = np.sqrt",
    "abs": "abs = np.abs",
    "sin": "sin = np.sin",
    "cos": "cos = np.cos",
    "tanh": "tanh = np.tanh",
    "sigmoid": "def sigmoid(a):\n    return 1 / (1 + np.exp(-a))",
    "softmax": "def softmax(a):\n    e = np.exp(a - a.max())\n    return e / e.sum()",
    "norm": "def norm(a):  # 2-norm of a vector, Frobenius norm of a matrix\n"
            "    return np.array([[np.linalg.norm(a)]])",
    "kron": "kron = np.kron",
    "hadamard": "def hadamard(a, b):\n    return a * b",
    "diag": "def diag(a):  # vector -> diagonal matrix; square matrix -> column of its "
            "diagonal\n    return np.diag(a[:, 0]) if a.shape[1] == 1 else "
            "np.diag(a).reshape(-1, 1)",
    "vec": "def vec(a):  # stack the columns\n    return a.reshape(-1, 1, order=\"F\")",
    "sum": "def sum(a):  # of all entries\n    return np.array([[np.sum(a)]])",
    "mean": "def mean(a):  # of all entries\n    return np.array([[np.mean(a)]])",
    "relu": "def relu(a):\n    return np.maximum(a, 0.0)",
    "sign": "sign = np.sign",
    "step": "def step(a):  # Heaviside\n    return (a > 0).astype(float)",
    "erf": "def erf(a):  # the error function, by its Taylor series (|a| < 5 here)\n"
           "    total, term = np.zeros(np.shape(a)), a * 1.0\n"
           "    for k in range(200):\n"
           "        total = total + term / (2 * k + 1)\n"
           "        term = -term * a * a / (k + 1)\n"
           "    return 2 / np.sqrt(np.pi) * total",
    "softmax_rows": "def softmax_rows(a):  # each row through softmax\n"
                    "    e = np.exp(a - a.max(axis=1, keepdims=True))\n"
                    "    return e / e.sum(axis=1, keepdims=True)",
    "logsumexp": "def logsumexp(a):\n    top = a.max()\n"
                 "    return np.array([[np.log(np.sum(np.exp(a - top))) + top]])",
    "log_softmax": "def log_softmax(a):\n    top = a.max()\n"
                   "    return a - (np.log(np.sum(np.exp(a - top))) + top)",
    # format 1.2
    "tan": "tan = np.tan",
    "expm": "def expm(a):  # the matrix exponential: scaling and squaring, Taylor series\n"
            "    s = max(0.0, np.ceil(np.log2(max(np.abs(a).sum(axis=0).max(), 1e-300))) + 3)\n"
            "    x, r = a / 2.0 ** s, np.eye(len(a))\n"
            "    for j in range(18, 0, -1):\n"
            "        r = np.eye(len(a)) + x @ r / j\n"
            "    while s > 0:\n"
            "        r, s = r @ r, s - 1\n"
            "    return r",
    "logm": "def logm(a):  # the principal matrix logarithm: inverse scaling and squaring\n"
            "    n, k = len(a), 0\n"
            "    while np.abs(a - np.eye(n)).sum(axis=0).max() > 0.25:\n"
            "        y, z = a, np.eye(n)  # Denman-Beavers square root\n"
            "        for _ in range(60):\n"
            "            y, z = (y + np.linalg.inv(z)) / 2, (z + np.linalg.inv(y)) / 2\n"
            "        a, k = y, k + 1\n"
            "    z = np.linalg.solve((a + np.eye(n)).T, (a - np.eye(n)).T).T\n"
            "    total, term = z, z\n"
            "    for j in range(1, 30):\n"
            "        term = term @ z @ z\n"
            "        total = total + term / (2 * j + 1)\n"
            "    return 2.0 ** (k + 1) * total",
    "pinv": "pinv = np.linalg.pinv",
    "hadamard_pow": "def hadamard_pow(a, p):  # entry by entry\n    return a ** p",
    "hadamard_div": "def hadamard_div(a, b):  # entry by entry\n    return a / b",
    "commutation": "def commutation(m, n):  # K @ vec(A) == vec(A.T) for A m x n\n"
                   "    K = np.zeros((m * n, m * n))\n"
                   "    for i in range(m):\n"
                   "        for j in range(n):\n"
                   "            K[i * n + j, j * m + i] = 1.0\n"
                   "    return K",
}

_DRAW_HELPERS = {
    "random_probability": "def random_probability(rows, cols):  # inside the simplex\n"
                          "    W = rng.uniform(0.05, 1.0, (rows, cols))\n"
                          "    return W / W.sum() if cols == 1 else "
                          "W / W.sum(axis=1, keepdims=True)",
    "random_spd": "def random_spd(n):  # symmetric positive definite\n"
                  "    M = rng.standard_normal((n, n))\n"
                  "    return M @ M.T / n + 0.5 * np.eye(n)",
    "random_orthogonal": "def random_orthogonal(n):\n"
                         "    Q, R = np.linalg.qr(rng.standard_normal((n, n)))\n"
                         "    return Q * np.sign(np.diag(R))",
    "random_symmetric": "def random_symmetric(n):\n"
                        "    M = rng.standard_normal((n, n))\n"
                        "    return (M + M.T) / 2",
    "random_skew": "def random_skew(n):  # skew-symmetric\n"
                   "    M = rng.standard_normal((n, n))\n"
                   "    return (M - M.T) / 2",
    "random_diagonal": "def random_diagonal(n):\n"
                       "    return np.diag(rng.choice([-1.0, 1.0], n) * rng.uniform(0.5, 2.0, n))",
}

_LAYOUT = '''\
def jacobian(f, X, h=1e-4):
    """D[i, j, k, l] = d f(X)[i, j] / d X[k, l], by fourth-order central differences."""
    Y = f(X)
    D = np.zeros(Y.shape + X.shape)
    for k, l in np.ndindex(*X.shape):
        step = h * max(1.0, abs(X[k, l]))
        E = np.zeros(X.shape)
        E[k, l] = step
        D[:, :, k, l] = (8 * (f(X + E) - f(X - E)) - f(X + 2 * E) + f(X - 2 * E)) / (12 * step)
    return D


def numerator(D, shape):
    """Numerator layout: the axes of Y, then the axes of X reversed (length-one axes of a
    vector's or a scalar's shape dropped). The denominator layout is its transpose."""
    return D.transpose(0, 1, 3, 2).reshape(shape)


def vec_jacobian(D):
    """d vec(Y) / d vec(X)^T, vec stacking the columns."""
    r, c, p, q = D.shape
    return D.transpose(1, 0, 3, 2).reshape(r * c, p * q)


def defined(f, X):
    """f(X) is finite, with no division by zero, overflow or invalid operation."""
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        try:
            return bool(np.all(np.isfinite(f(X))))
        except (FloatingPointError, np.linalg.LinAlgError, ZeroDivisionError):
            return False
'''

_CHECK = '''\
def check(name, value, expected):
    value = np.full((1, 1), value) if np.ndim(value) == 0 else value  # a number is 1 x 1
    assert value.shape == expected.shape, f"{name}: shape {value.shape}, not {expected.shape}"
    error = np.max(np.abs(value - expected)) / max(1.0, np.max(np.abs(expected)))
    assert error < TOLERANCE, f"{name}: relative error {error:.1e}"
'''

_HOLDS = '''\
def holds(name, form, expected):
    """Does the published form agree with the derivative? Prints what differs."""
    try:
        value = form()
    except ValueError as exc:  # the shapes do not fit: the formula is not even defined
        print(f"{name}: not defined ({exc})")
        return False
    value = np.full((1, 1), value) if np.ndim(value) == 0 else value
    if value.shape != expected.shape:
        print(f"{name}: shape {value.shape}, but its layout has shape {expected.shape}")
        return False
    error = np.max(np.abs(value - expected)) / max(1.0, np.max(np.abs(expected)))
    print(f"{name}: relative error {error:.1e}")
    return error < TOLERANCE
'''


_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*")


class _Names:
    def __init__(self, prep: Prepared):
        self.map = {}
        sizes = {s for d in prep.decls.values() for s in d.size_names}
        for name in [*prep.decls, *sizes, *sorted(prep.integers)]:  # `k: integer` too
            if not _IDENTIFIER.fullmatch(name):  # validated before; never trust it here
                raise ValueError(f"not a plain name: {name!r}")
            self.map[name] = name + "_" if name in RESERVED or name in _HELPERS else name

    def __call__(self, name: str) -> str:
        return self.map[name]

    def diff(self, name: str) -> str:
        text = "d" + name
        return text + "_" if text in RESERVED or text in _HELPERS else text

    def dim(self, dim) -> str:
        """A SymPy size expression (from a declaration, never catalog text) as Python code."""
        if isinstance(dim, int):
            dim = sympy.Integer(dim)
        swap = {s: sympy.Symbol(self.map.get(str(s), str(s))) for s in dim.free_symbols}
        return str(dim.xreplace(swap))

    def dims(self, dims) -> str:
        """A shape tuple of SymPy size expressions as Python code."""
        return "(" + ", ".join(self.dim(d) for d in dims) + ")"


class _Code(E.Visitor):
    """One expression tree -> NumPy source text (values are 2-D arrays). Each node's
    method returns (text, precedence) on the one table of lang/expr."""

    def __init__(self, prep: Prepared, names: _Names, layout: str | None, need: set):
        self.prep = prep
        self.names = names
        self.layout = layout
        self.need = need
        self.env = S.ShapeEnv(prep.decls, prep.identity.wrt, layout)

    def shape(self, node):
        try:
            return S.infer(node, self.env)
        except (CatalogError, KeyError, TypeError, AttributeError):
            return None  # an erratum's published form whose shapes do not fit

    def scalar(self, node) -> bool:
        shape = self.shape(node)
        return shape is not None and S.is_scalar(shape)

    def __call__(self, node, outer: int = 0) -> str:
        text, prec = self.visit(node)
        return f"({text})" if prec < outer else text

    def _Num(self, node):
        v = node.value
        return (str(v.numerator) if v.denominator == 1 else repr(float(v))), E.ATOM

    def _Sym(self, node):
        return self.names(node.name), E.ATOM

    _Size = _Sym

    def _Const(self, node):
        return {"pi": "np.pi"}[node.name], E.ATOM

    def _Differential(self, node):
        return self.names.diff(node.name), E.ATOM

    def _Neg(self, node):
        return "-" + self(node.arg, E.NEG), E.NEG

    def _Transpose(self, node):
        return self(node.arg, E.ATOM) + ".T", E.ATOM

    def _Apply(self, node):
        head = self.names(node.fn) + ("_prime" if node.order else "")
        return f"{head}({self(node.arg)})", E.ATOM

    def _Bin(self, node):
        op = node.op
        if op == "**":
            k = S.integer_exponent(node.right)
            shape = self.shape(node.left)
            vector = shape is not None and (shape[0] == 1) != (shape[1] == 1)
            if not self.scalar(node.left) and shape is not None and not vector:
                power = k if k is not None else self(node.right)  # `k: integer`, an int
                return f"np.linalg.matrix_power({self(node.left)}, {power})", 5
            return f"{self(node.left, E.ATOM)} ** {self(node.right, E.POWER)}", E.POWER
        prec = E.PRECEDENCE[op]  # the one table (lang/expr)
        if op == "*":
            op = "*" if self.scalar(node.left) or self.scalar(node.right) else "@"
        right = prec + 1 if op in ("-", "/", "*", "@") else prec
        return f"{self(node.left, prec)} {op} {self(node.right, right)}", prec

    def _Call(self, node):
        fn, args = node.fn, node.args
        if fn == "eye":
            return f"np.eye({self(args[0])})", E.ATOM
        if fn in ("ones", "zeros"):
            dims = [self(a) for a in args] + (["1"] if len(args) == 1 else [])
            return f"np.{fn}(({', '.join(dims)}))", E.ATOM
        self.need.add(fn)
        return f"{fn}({', '.join(self(a) for a in args)})", E.ATOM

    def _DiffOf(self, node):
        prep = self.prep
        array = self.names(node.name) + "_D"
        if self.layout in ("vec", "vec_denominator"):
            tail = ".T" if self.layout == "vec_denominator" else ""
            return f"vec_jacobian({array})" + tail, E.ATOM
        wrt = prep.decls[node.wrt]
        shape = S.layout_shape(prep.decls[node.name].shape, wrt.shape, "numerator",
                               wrt.kind == "matrix")
        text = f"numerator({array}, {self.names.dims(shape)})"
        return (text + ".T" if self.layout == "denominator" else text), E.ATOM


def _draw(decl, names: _Names, need: set) -> str:
    """Source text drawing a random value honouring the declared properties."""
    rows = decl.shape[0]
    dims = names.dims(decl.shape)
    props = decl.props
    if decl.kind == "scalar":
        if "positive" in props:
            return "np.array([[rng.uniform(0.5, 2.0)]])"
        return "np.array([[rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.0)]])"
    if "probability" in props:  # positive entries; the column, or each row, sums to 1
        need.add("random_probability")
        return f"random_probability{dims}"
    if "lower-triangular" in props:
        return f"np.tril(rng.standard_normal({dims}), -1) / {names.dim(rows)} + np.diag(" \
               f"rng.choice([-1.0, 1.0], {names.dim(rows)}) * rng.uniform(0.5, 2.0, " \
               f"{names.dim(rows)}))"
    if "positive" in props:
        return f"rng.uniform(0.5, 2.0, {dims})"
    if "nonzero" in props:
        return f"rng.choice([-1.0, 1.0], {dims}) * rng.uniform(0.5, 2.0, {dims})"
    n = names.dim(rows)
    for prop, helper in (("positive-definite", "random_spd"), ("orthogonal", "random_orthogonal"),
                         ("symmetric", "random_symmetric"), ("skew-symmetric", "random_skew"),
                         ("diagonal", "random_diagonal")):
        if prop in props:
            need.add(helper)
            return f"{helper}({n})"
    return f"rng.standard_normal({dims})"


def _structured(decl, text: str, names: _Names) -> str:
    """Slopes of a dependent symbol keep its structure (symmetric, diagonal...)."""
    props = decl.props
    if props & {"symmetric", "positive-definite"}:
        return f"symmetrize({text})"
    if "skew-symmetric" in props:
        return f"skew({text})"
    if "diagonal" in props:
        return f"{text} * np.eye({names.dim(decl.shape[0])})"
    return text


def _square(decl) -> bool:
    rows, cols = decl.shape
    return decl.kind == "matrix" and rows == cols and rows != S.ONE


def _given_trees(prep: Prepared) -> dict:
    """An erratum's published forms, also those whose shapes do not fit (not in prep.forms)."""
    ident = prep.identity
    trees = {name: form.tree for name, form in prep.forms.items()}
    texts = dict(ident.derivative)
    if ident.differential is not None:
        texts["differential"] = ident.differential
    for name, text in texts.items():
        if name in trees:
            continue
        try:
            trees[name] = E.parse(text, context(
                prep, name, differentials=name == "differential", diffs=name != "differential"))
        except CatalogError:
            continue
    return trees


def _erratum_sizes(prep: Prepared, assignments: list[dict], verdict=None) -> dict:
    """The first size assignment at which the verifier saw the published formula fail:
    read from the verdict's evidence when there is one (the build never checks twice),
    else found by running the numeric check (a derivation shown on its own)."""
    from matderiv.check.evaluate import DomainError
    from matderiv.check.sampling import NUMERIC_TOLERANCE, numeric_check
    from matderiv.check.verify import seed_of

    if verdict is not None and verdict.evidence:
        for step in verdict.evidence:
            if step["check"] == "numeric" and step["sizes"] in assignments and max(
                    step["errors"].values(), default=0.0) > NUMERIC_TOLERANCE:
                return step["sizes"]
        return assignments[0]
    forms = [f for f in prep.forms.values() if f.shape_ok]
    if prep.refutations or len(forms) < len(prep.forms) or not forms:
        return assignments[0]
    for index, sizes in enumerate(assignments):
        try:
            errors, _ = numeric_check(prep, forms, sizes, seed_of(prep.identity) + 100 + index)
        except DomainError:
            continue
        if max(errors.values()) > NUMERIC_TOLERANCE:
            return sizes
    return assignments[0]


def snippet(prep: Prepared, verdict=None) -> str | None:
    """The NumPy program re-checking one prepared identity; None if it cannot be written.
    `verdict`: the identity's verdict, whose evidence says where an erratum fails."""
    if prep.invalid or prep.of is None:
        return None
    try:
        program = _program(prep, verdict)
    except (ValueError, KeyError, TypeError):
        return None
    return program if not audit(program, prep.identity) else None


def _program(prep: Prepared, verdict=None) -> str:
    from matderiv.check.verify import size_assignments

    ident = prep.identity
    erratum = ident.status == "erratum"
    assignments = size_assignments(prep)
    if prep.integers:  # k = 0 and 1 make a power trivial: show one that tells
        assignments = sorted(assignments, key=lambda a: not all(
            a.get(k, 2) >= 2 for k in prep.integers))
    sizes = _erratum_sizes(prep, assignments, verdict) if erratum else assignments[0]
    names = _Names(prep)
    need: set = set()
    wrt = prep.decls[ident.wrt]
    X = names(ident.wrt)
    dependents = [d for d in prep.decls.values() if d.depends_on]
    functions = [d for d in prep.decls.values() if d.kind == "function"]
    arrays = [d for d in prep.decls.values() if d.kind != "function" and not d.depends_on
              and d.name != ident.wrt]

    trees = _given_trees(prep) if erratum else {n: f.tree for n, f in prep.forms.items()}
    checks = []  # (label, code, expected code)
    for name in FORM_ORDER:
        if name not in trees:
            continue
        form = prep.forms.get(name)
        if form is not None and form.expected is None:
            continue
        tree = trees[name]
        code = _Code(prep, names, None if name == "differential" else name, need)
        expected = _expected(prep, names, name)
        if expected is None:
            continue
        if is_zero(tree):
            text = f"np.zeros({expected[1]})"
        else:
            text = code(tree)
        label = FORM_LABELS[name] + ("" if form is None or form.given else " (derived)")
        checks.append((label, text, expected[0]))
    of_code = _Code(prep, names, None, need)(prep.of)

    out = ["# Check it yourself: one identity of the matderiv catalog, checked numerically "
           "at a",
           f"# random point: d({E.to_text(prep.of)}) / d{X}.",
           f"IDENTITY = {str(ident.id)!r}",
           f"TITLE = {str(ident.title)!r}"]
    if erratum:
        out.append("# This is an ERRATUM: the published formula is false, and this program "
                   "shows it.")
    out += ["# Needs only NumPy. Every value is a 2-D array: a scalar is 1 x 1, a vector a "
            "column.", "import numpy as np", "",
            f"rng = np.random.default_rng({zlib.crc32(ident.id.encode())})"
            "  # another seed checks another point",
            f"TOLERANCE = {TOLERANCE}"]
    if sizes:
        out.append(f"{', '.join(names(k) for k in sizes)} = "
                   f"{', '.join(str(int(v)) for v in sizes.values())}  # sizes")
    lines_f = [f"def f({X}):  # the expression differentiated: {E.to_text(prep.of)}"]
    lines_f += [f"    {names(d.name)} = {names(d.name)}_of({X})" for d in dependents]
    lines_f.append(f"    return {of_code}")

    helpers = [_HELPERS[h] for h in _HELPERS if h in need]
    blocks = []
    if any(not h.startswith("def ") for h in helpers):
        blocks.append("\n".join(h for h in helpers if not h.startswith("def ")))
    blocks += [h for h in helpers if h.startswith("def ")]
    for decl in functions:
        g = names(decl.name)
        blocks.append(
            f"# {g} is an unknown smooth function, applied elementwise; a random "
            "stand-in:\n"
            f"{g}_c = rng.choice([-1.0, 1.0], 5) * rng.uniform(0.5, 1.5, 5)\n\n\n"
            f"def {g}(a):\n"
            f"    c = {g}_c\n    return c[0] + c[1] * a + c[2] * np.sin(c[3] * a + c[4])\n\n\n"
            f"def {g}_prime(a):  # its derivative\n"
            f"    c = {g}_c\n    return c[1] + c[2] * c[3] * np.cos(c[3] * a + c[4])")
    for decl in dependents:
        u = names(decl.name)
        blocks.append(
            f"def {u}_of({X}):  # {u} is an unknown smooth function of {X}: "
            "a random\n"
            f"    # nonlinear stand-in, {u}_0 at the point, with slope {u}_slope[k] along the "
            f"k-th entry of {X}\n"
            f"    d = ({X} - {X}_0).reshape(-1)\n"
            f"    return {u}_0 + np.tensordot(d, {u}_slope, axes=1) "
            f"+ np.tensordot(d * d, {u}_bend, axes=1)")
    blocks.append("\n".join(lines_f))

    draw = [f"    {X} = {_draw(wrt, names, need)}"]
    if dependents:
        draw.append(f"    {X}_0 = {X}")
    for decl in arrays:
        draw.append(f"    {names(decl.name)} = {_draw(decl, names, need)}")
    structure = False
    for decl in dependents:
        u = names(decl.name)
        batch = f"({X}.size, *{u}_0.shape)"
        slope = _structured(decl, f"rng.standard_normal({batch})", names)
        bend = _structured(decl, f"0.3 * rng.standard_normal({batch})", names)
        structure |= slope != f"rng.standard_normal({batch})"
        draw += [f"    {u}_0 = {_draw(decl, names, need)}",
                 f"    {u}_slope = {slope}", f"    {u}_bend = {bend}"]
    square = [names(d.name) for d in [wrt, *arrays] if _square(d)]
    square += [names(d.name) + "_0" for d in dependents if _square(d)]
    test = f"defined(f, {X})"
    if square:
        test = f"max(np.linalg.cond(M) for M in ({', '.join(square)},)) < 100 and " + test
    draw.append(f"    if {test}:")
    draw.append("        break")
    draw_helpers = [_DRAW_HELPERS[h] for h in _DRAW_HELPERS if h in need]
    if structure:
        draw_helpers.append("def symmetrize(S):\n    return (S + S.transpose(0, 2, 1)) / 2\n\n\n"
                            "def skew(S):\n    return (S - S.transpose(0, 2, 1)) / 2")
    blocks = draw_helpers + blocks
    blocks.append(_LAYOUT.rstrip("\n"))
    blocks.append(_HOLDS.rstrip("\n") if erratum else _CHECK.rstrip("\n"))

    main = ["while True:  # a random point honouring the declared properties, where f is "
            "defined", *draw]
    for decl in dependents:
        u = names(decl.name)
        main += [f"{u} = {u}_of({X})",
                 f"{u}_D = {u}_slope.transpose(1, 2, 0).reshape({u}.shape + {X}.shape)"
                 f"  # d{u}[i, j] / d{X}[k, l]"]
    main.append(f"f_D = jacobian(f, {X})  # f_D[i, j, k, l] = d f({X})[i, j] / d {X}[k, l]")
    if any(name == "differential" for name in trees):
        main.append(f"{names.diff(ident.wrt)} = rng.standard_normal({X}.shape)"
                    "  # a random direction")
        for decl in dependents:
            u = names(decl.name)
            main.append(f"{names.diff(decl.name)} = np.tensordot("
                        f"{names.diff(ident.wrt)}.reshape(-1), {u}_slope, axes=1)")
    main.append("")
    if erratum:
        main.append("results = [")
        main += [f"    holds({label!r}, lambda: {text},\n          {expected}),"
                 for label, text, expected in checks]
        main += ["]", 'assert not all(results), "the published formula held at this point"',
                 'print("ok")']
    else:
        main += [f"check({label!r}, {text},\n      {expected})" for label, text, expected in checks]
        main.append('print("ok")')
    body = "\n\n\n".join(blocks)
    return "\n".join(out) + "\n\n\n" + body + "\n\n\n" + "\n".join(main) + "\n"


# ---------------------------------------------------------------- the audit

# The builtins a program may use; every other name it reads it must define itself.
_BUILTINS = frozenset({"abs", "all", "bool", "max", "min", "print", "float", "len", "range",
                       "FloatingPointError", "ZeroDivisionError", "ValueError"})
# The syntax a program may use: no class, import-from, global, del, walrus, await, yield.
_NODES = frozenset({
    "Module", "Expr", "Assign", "FunctionDef", "arguments", "arg", "Return", "If", "While",
    "For", "Break", "Try", "ExceptHandler", "With", "withitem", "Assert", "Import", "alias",
    "Call", "keyword", "Name", "Attribute", "Subscript", "Slice", "Tuple", "List",
    "Constant", "BinOp", "UnaryOp", "BoolOp", "Compare", "IfExp", "Lambda", "GeneratorExp",
    "comprehension", "Starred", "JoinedStr", "FormattedValue", "Load", "Store",
    "Add", "Sub", "Mult", "Div", "Pow", "MatMult", "USub", "UAdd", "Not", "And", "Or",
    "Lt", "LtE", "Gt", "GtE", "Eq", "NotEq"})
_STATIC: set[str] = set()


def _static_strings() -> set[str]:
    """Every string this module can put into a program: the literals of its own source,
    and the literals inside those that are code (the helper templates)."""
    if not _STATIC:
        with open(__file__, encoding="utf-8") as handle:
            todo = [handle.read()]
        while todo:
            try:
                tree = ast.parse(todo.pop())
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and node.value not in _STATIC:
                    _STATIC.add(node.value)
                    todo.append(node.value)
        _STATIC.update(label + " (derived)" for label in FORM_LABELS.values())
    return _STATIC


def audit(program: str, identity=None) -> list[str]:
    """What in a generated program is more than a numeric check (nothing, normally).

    Read back with Python's parser: only `import numpy as np`; only whitelisted syntax;
    every name read is one the program binds, `np`, or a harmless builtin; no attribute
    starting with `_`; every string literal one of this module's own, or the identity's id
    and title exactly (which the generator writes with repr())."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError) as exc:
        return [f"does not parse: {exc}"]
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    texts = _static_strings()
    if identity is not None:
        texts = texts | {str(identity.id), str(identity.title)}
    found = []
    for node in ast.walk(tree):
        kind = type(node).__name__
        if kind not in _NODES:
            found.append(f"line {getattr(node, 'lineno', '?')}: {kind} is not allowed")
        elif isinstance(node, ast.Import):
            if [(a.name, a.asname) for a in node.names] != [("numpy", "np")]:
                found.append(f"line {node.lineno}: an import other than numpy")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id not in bound and node.id not in _BUILTINS:
                found.append(f"line {node.lineno}: the name {node.id!r}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            found.append(f"line {node.lineno}: the attribute {node.attr!r}")
        elif isinstance(node, ast.Constant) and not isinstance(node.value, int | float) \
                and node.value not in texts:
            found.append(f"line {node.lineno}: the literal {node.value!r:.60}")
    return found


def _expected(prep: Prepared, names: _Names, name: str):
    """(code of the numeric derivative in this layout, code of its shape) or None."""
    if name == "differential":
        return (f"np.tensordot(f_D, {names.diff(prep.identity.wrt)}, axes=2)",
                names.dims(prep.of_shape))
    if name in ("vec", "vec_denominator"):
        shape = S.layout_shape(prep.of_shape, prep.wrt.shape, name, prep.keep_x)
        return ("vec_jacobian(f_D)" + (".T" if name == "vec_denominator" else ""),
                names.dims(shape))
    shape = S.layout_shape(prep.of_shape, prep.wrt.shape, "numerator", prep.keep_x)
    if shape is None:
        return None
    code = f"numerator(f_D, {names.dims(shape)})"
    if name == "denominator":
        return code + ".T", names.dims(shape[::-1])
    return code, names.dims(shape)
