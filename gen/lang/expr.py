"""The safe expression parser: catalog text -> a small tree of our own node types.

Catalog text is untrusted. Python's `ast` module only *parses* it (it never runs
anything); every node is then checked against a whitelist of syntax, names, functions and
the single attribute `.T`, and copied into the node types below. Nothing here calls eval,
exec, compile-to-bytecode, sympify or parse_expr. The backends (exact, numeric, LaTeX,
SymPy) all walk the same tree.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from fractions import Fraction

from matderiv.catalog.schema import CONSTANTS, FUNCTIONS
from matderiv.errors import CatalogError

MAX_LENGTH = 10_000  # characters
MAX_PARENTHESES = 100  # nesting of parentheses (Python's parser stops at 200)
MAX_DEPTH = 500  # nesting of the tree (a sum of n terms is n deep)
MAX_NODES = 2000  # nodes of the tree
MAX_EXPONENT = 12
MAX_LITERAL = 10**6


@dataclass(frozen=True)
class Num:
    value: Fraction


@dataclass(frozen=True)
class Sym:
    name: str


@dataclass(frozen=True)
class Differential:
    """dX: the differential of a symbol (only inside `differential`)."""

    name: str


@dataclass(frozen=True)
class Size:
    """A size name: an argument of eye, ones, zeros, or (format 1.1) its value as a scalar."""

    name: str


@dataclass(frozen=True)
class Const:
    """A named constant (format 1.1): `pi`."""

    name: str


@dataclass(frozen=True)
class Neg:
    arg: object


@dataclass(frozen=True)
class Bin:
    op: str  # + - * / **
    left: object
    right: object


@dataclass(frozen=True)
class Transpose:
    arg: object


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple


@dataclass(frozen=True)
class Apply:
    """g(u) for a generic function g; order 1 is diff(g)(u), g' applied."""

    fn: str
    arg: object
    order: int = 0


@dataclass(frozen=True)
class DiffOf:
    """diff(U, x): the derivative of a dependent symbol, in the layout of its form."""

    name: str
    wrt: str


@dataclass(frozen=True)
class Context:
    """What a name may mean where the expression stands."""

    symbols: frozenset  # declared array/scalar symbols
    functions: frozenset  # declared generic functions
    sizes: frozenset
    wrt: str
    dependent: frozenset  # symbols that are functions of wrt
    differentials: bool = False  # dX allowed
    diffs: bool = False  # diff(U, x) allowed
    where: str = "of"
    integers: frozenset = frozenset()  # names declared `integer` (format 1.2), also in sizes


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_SIZE_FUNCTIONS = {"eye": (1, 1), "ones": (1, 2), "zeros": (1, 2), "commutation": (2, 2)}
_ARITY = {"kron": (2, 2), "hadamard": (2, 2), "diff": (1, 2), "hadamard_pow": (2, 2),
          "hadamard_div": (2, 2)}


def parse(text: str, ctx: Context):
    """Parse catalog text into a tree, or raise CatalogError naming what is wrong."""
    if not isinstance(text, str):
        raise CatalogError("E200", where=ctx.where, detail="not a text")
    if len(text) > MAX_LENGTH:
        raise CatalogError("E205", where=ctx.where, detail=f"more than {MAX_LENGTH} characters")
    if _nesting(text) > MAX_PARENTHESES:
        raise CatalogError("E205", where=ctx.where, detail=f"parentheses nested deeper than "
                           f"{MAX_PARENTHESES}")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise CatalogError("E200", where=ctx.where, detail=exc.msg) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise CatalogError("E200", where=ctx.where, detail=type(exc).__name__) from None
    count = sum(1 for node in ast.walk(tree) if not isinstance(node, ast.expr_context))
    if count > MAX_NODES:
        raise CatalogError("E205", where=ctx.where, detail=f"more than {MAX_NODES} nodes")
    return _Converter(ctx, source).convert(tree.body, 0)


def _nesting(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


class _Converter:
    def __init__(self, ctx: Context, source: str = ""):
        self.ctx = ctx
        self.source = source

    def fail(self, code, **fields):
        raise CatalogError(code, where=self.ctx.where, **fields)

    def convert(self, node, depth):
        if depth > MAX_DEPTH:
            self.fail("E205", detail=f"deeper than {MAX_DEPTH}")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            self.fail("E201", construct=_describe(node))
        return method(node, depth + 1)

    def _Constant(self, node, depth):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail("E201", construct=f"the literal {type(value).__name__}")
        if isinstance(value, float) and value != value or abs(value) > MAX_LITERAL:
            self.fail("E206", detail=f"{value!r} is out of range")
        if isinstance(value, float):
            return Num(self._decimal(node, value))
        return Num(Fraction(value))

    def _decimal(self, node, value: float) -> Fraction:
        """A decimal literal as the exact rational its digits say (`0.1` is 1/10, and
        `1.0000000000000000000001` keeps its last digit), never a binary float."""
        text = (ast.get_source_segment(self.source, node) or "").replace("_", "")
        try:
            return Fraction(text)
        except (ValueError, ZeroDivisionError):
            return Fraction(str(value))

    def _Name(self, node, depth):
        name = node.id
        ctx = self.ctx
        if name in ctx.symbols:
            return Sym(name)
        if name.startswith("d") and name[1:] in ctx.symbols:
            if not ctx.differentials:
                self.fail("E208", detail=f"the differential `{name}` may appear only in "
                          "`differential`")
            if name[1:] != ctx.wrt and name[1:] not in ctx.dependent:
                self.fail("E208", detail=f"`{name}`: only d{ctx.wrt} and the differentials of "
                          "symbols that depend on it exist")
            return Differential(name[1:])
        if name in ctx.functions:
            self.fail("E208", detail=f"the function `{name}` must be applied, as `{name}(...)`")
        if name in ctx.sizes:
            return Size(name)
        if name in CONSTANTS:
            return Const(name)
        if name in FUNCTIONS:
            self.fail("E208", detail=f"the function `{name}` must be called")
        close = difflib.get_close_matches(name, sorted(ctx.symbols | ctx.functions), n=1)
        self.fail("E202", name=name[:40], hint=f" (did you mean `{close[0]}`?)" if close else
                  " (declare it under `symbols`)")

    def _UnaryOp(self, node, depth):
        if isinstance(node.op, ast.USub):
            return Neg(self.convert(node.operand, depth))
        if isinstance(node.op, ast.UAdd):
            return self.convert(node.operand, depth)
        self.fail("E201", construct=_describe(node.op))

    def _BinOp(self, node, depth):
        op = _BINOPS.get(type(node.op))
        if op is None:
            hint = " (use * for the matrix product)" if isinstance(node.op, ast.MatMult) else ""
            self.fail("E201", construct=_describe(node.op) + hint)
        left = self.convert(node.left, depth)
        right = self.convert(node.right, depth)
        node = Bin(op, left, right)
        if op == "**":
            _check_exponent(node, self)
            sizes = sorted({n.name for n in walk(right) if isinstance(n, Size)}
                           - self.ctx.integers)
            if sizes:
                self.fail("E209", name=sizes[0])
        return node

    def _Attribute(self, node, depth):
        if node.attr != "T":
            self.fail("E204", name=node.attr[:40])
        return Transpose(self.convert(node.value, depth))

    def _Call(self, node, depth):
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            self.fail("E201", construct="a keyword or starred argument")
        func = node.func
        if isinstance(func, ast.Call):
            return self._derivative_apply(node, depth)
        if not isinstance(func, ast.Name):
            self.fail("E201", construct="a call of something other than a function name")
        name = func.id
        if name in self.ctx.functions:
            self._arity(name, node.args, 1, 1)
            return Apply(name, self.convert(node.args[0], depth))
        if name not in FUNCTIONS:
            self.fail("E203", name=name[:40])
        if name in _SIZE_FUNCTIONS:
            low, high = _SIZE_FUNCTIONS[name]
            self._arity(name, node.args, low, high)
            return Call(name, tuple(self._size(a) for a in node.args))
        if name == "diff":
            return self._diff(node)
        low, high = _ARITY.get(name, (1, 1))
        self._arity(name, node.args, low, high)
        call = Call(name, tuple(self.convert(a, depth) for a in node.args))
        if name == "hadamard_pow":  # the exponent obeys the limits of `**`
            power = Bin("**", *call.args)
            _check_exponent(power, self)
            sizes = sorted({n.name for n in walk(power.right) if isinstance(n, Size)})
            if sizes:
                self.fail("E209", name=sizes[0])
        return call

    def _arity(self, name, args, low, high):
        if not low <= len(args) <= high:
            expected = f"{low} argument{'s' if low > 1 else ''}" if low == high else (
                f"{low} or {high} arguments")
            self.fail("E207", name=name, expected=expected)

    def _size(self, node):
        if isinstance(node, ast.Name) and node.id in self.ctx.sizes:
            return Size(node.id)
        if isinstance(node, ast.Constant) and type(node.value) is int and 1 <= node.value <= 64:
            return Num(Fraction(node.value))
        self.fail("E207", name="eye/ones/zeros/commutation",
                  expected="sizes: size names or integers 1..64")

    def _diff(self, node):
        if not self.ctx.diffs:
            self.fail("E208", detail="diff(...) may appear only in `derivative` forms")
        args = node.args
        if len(args) != 2 or not all(isinstance(a, ast.Name) for a in args):
            self.fail("E207", name="diff", expected="two names, diff(U, x), or one generic "
                      "function applied as diff(g)(u)")
        name, wrt = args[0].id, args[1].id
        if name not in self.ctx.dependent:
            self.fail("E208", detail=f"diff({name}, {wrt}): `{name}` is not declared as a "
                      f"function (`... of {self.ctx.wrt}`)")
        if wrt != self.ctx.wrt:
            self.fail("E208", detail=f"diff({name}, {wrt}): the variable must be `{self.ctx.wrt}`")
        return DiffOf(name, wrt)

    def _derivative_apply(self, node, depth):
        inner = node.func
        ok = (
            isinstance(inner.func, ast.Name) and inner.func.id == "diff"
            and len(inner.args) == 1 and not inner.keywords
            and isinstance(inner.args[0], ast.Name) and inner.args[0].id in self.ctx.functions
        )
        if not ok:
            self.fail("E201", construct="a call of a call other than diff(g)(u)")
        if self.ctx.where == "of":
            self.fail("E208", detail="diff(g)(u) may appear only in derivative forms and "
                      "differentials")
        self._arity("diff(g)", node.args, 1, 1)
        return Apply(inner.args[0].id, self.convert(node.args[0], depth), 1)


def _check_exponent(power, conv):
    """No power towers: the exponent holds no power itself and, if constant, is at most
    MAX_EXPONENT in size; powers nest at most twice through their bases. So the exact
    arithmetic cannot be made to explode."""
    exponent = power.right
    if any(isinstance(n, Bin) and n.op == "**" for n in walk(exponent)):
        conv.fail("E206", detail="an exponent may not itself contain a power")
    value = _constant(exponent)
    if value is not None and abs(value) > MAX_EXPONENT:
        conv.fail("E206", detail=f"exponent {value} is beyond ±{MAX_EXPONENT}")
    depth, base = 1, power.left
    while isinstance(base, Bin | Neg | Transpose):
        if isinstance(base, Bin) and base.op == "**":
            depth += 1
        base = base.left if isinstance(base, Bin) else base.arg
    if depth > 2:
        conv.fail("E206", detail="powers of powers of powers are not allowed")


def literal_value(node) -> Fraction | None:
    """The value of a number literal, or of a negated one; None for anything else."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Neg) and isinstance(node.arg, Num):
        return -node.arg.value
    return None


def _constant(node):
    """The value of a symbol-free + - * / expression of numbers, else None."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Neg):
        inner = _constant(node.arg)
        return None if inner is None else -inner
    if isinstance(node, Bin) and node.op in "+-*/":
        left, right = _constant(node.left), _constant(node.right)
        if left is None or right is None or (node.op == "/" and right == 0):
            return None
        return {"+": left + right, "-": left - right, "*": left * right,
                "/": left / right if right else None}[node.op]
    return None


def _describe(node) -> str:
    names = {
        "Lambda": "a lambda", "ListComp": "a comprehension", "GeneratorExp": "a generator",
        "SetComp": "a comprehension", "DictComp": "a comprehension", "Subscript": "indexing",
        "Compare": "a comparison", "BoolOp": "a boolean operator", "IfExp": "a conditional",
        "JoinedStr": "an f-string", "NamedExpr": "an assignment expression",
        "List": "a list", "Tuple": "a tuple", "Dict": "a dict", "Set": "a set",
        "Await": "await", "Yield": "yield", "Starred": "a starred expression",
        "MatMult": "the operator @", "FloorDiv": "the operator //", "Mod": "the operator %",
        "BitXor": "the operator ^", "BitAnd": "the operator &", "BitOr": "the operator |",
        "LShift": "the operator <<", "RShift": "the operator >>", "Invert": "the operator ~",
        "Not": "not",
    }
    return names.get(type(node).__name__, type(node).__name__)


# ---------------------------------------------------------------- walking and printing


class Visitor:
    """The one way a walk over a parse tree dispatches: `visit(node, *context)` calls the
    method named after the node's class (`_Bin`, `_Call`, ...) with the node and any
    context the walker carries down (a precedence, a pending transpose). A walker
    subclasses this and writes one method a kind of node (aliases such as
    `_Size = _Num` share one); a kind it forgot is reported by name, never skipped.
    The rule for a kind is looked up by name once per walker class and kept (the
    numeric check walks trees millions of times): rules are the class's methods, not
    replaced after the class is first used."""

    _rules: dict = {}  # node class -> rule, per walker class (found once by name)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._rules = {}

    def visit(self, node, *context):
        rules = type(self)._rules
        rule = rules.get(type(node))
        if rule is None:
            rule = getattr(type(self), "_" + type(node).__name__, None)
            if rule is None:
                raise TypeError(f"{type(self).__name__} has no rule for {type(node).__name__}")
            rules[type(node)] = rule
        return rule(self, node, *context)


class Transformer(Visitor):
    """A walk that rebuilds the tree: by default every node is rebuilt from its visited
    children (leaves returned as they are); a subclass overrides only the kinds it
    changes."""

    def _leaf(self, node, *context):
        return node

    _Num = _Sym = _Size = _Const = _Differential = _DiffOf = _leaf

    def _Neg(self, node, *context):
        return Neg(self.visit(node.arg, *context))

    def _Transpose(self, node, *context):
        return Transpose(self.visit(node.arg, *context))

    def _Bin(self, node, *context):
        return Bin(node.op, self.visit(node.left, *context), self.visit(node.right, *context))

    def _Call(self, node, *context):
        return Call(node.fn, tuple(self.visit(a, *context) for a in node.args))

    def _Apply(self, node, *context):
        return Apply(node.fn, self.visit(node.arg, *context), node.order)


def walk(node):
    """Every node of a tree, parents first."""
    yield node
    for child in children(node):
        yield from walk(child)


def children(node) -> tuple:
    if isinstance(node, Neg | Transpose):
        return (node.arg,)
    if isinstance(node, Bin):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Apply):
        return (node.arg,)
    return ()


# The one operator-precedence table of every printer: the text printer below, the LaTeX
# printer (lang/latex.py) and the NumPy printer (publish/snippet.py). Higher binds tighter;
# POWER is also the level of the postfix operators (transpose, inverse).
SUM, OTIMES, PRODUCT, NEG, POWER, ATOM = 1, 1.5, 2, 3, 4, 5
PRECEDENCE = {"+": SUM, "-": SUM, "kron": OTIMES, "hadamard": OTIMES, "*": PRODUCT,
              "/": PRODUCT, "neg": NEG, "**": POWER}
_PRECEDENCE = PRECEDENCE


def to_text(node) -> str:
    """The tree back as catalog syntax (used for derived forms)."""
    return TextPrinter().visit(node, 0)


class TextPrinter(Visitor):
    """Catalog syntax; `outer` is the precedence of the context (parentheses when the
    node binds less tightly). Other plain-text spellings (render/search) subclass it and
    override the kinds they write differently."""

    def _Num(self, node, outer):
        v = node.value
        return str(v.numerator) if v.denominator == 1 else str(float(v))

    def _Sym(self, node, outer):
        return node.name

    _Size = _Const = _Sym

    def _Differential(self, node, outer):
        return "d" + node.name

    def _DiffOf(self, node, outer):
        return f"diff({node.name}, {node.wrt})"

    def _Apply(self, node, outer):
        head = node.fn if node.order == 0 else f"diff({node.fn})"
        return f"{head}({self.visit(node.arg, 0)})"

    def _Call(self, node, outer):
        return f"{node.fn}({', '.join(self.visit(a, 0) for a in node.args)})"

    def _Transpose(self, node, outer):
        inner = self.visit(node.arg, ATOM)
        return f"({inner}).T" if isinstance(node.arg, Num) else inner + ".T"

    def _Neg(self, node, outer):
        text = "-" + self.visit(node.arg, NEG)
        return f"({text})" if outer > NEG else text

    def _Bin(self, node, outer):
        prec = PRECEDENCE[node.op]
        right_prec = prec + 1 if node.op in "-/" or node.op == "*" else prec
        if node.op == "**":
            left, right = self.visit(node.left, prec + 1), self.visit(node.right, prec)
        else:
            left, right = self.visit(node.left, prec), self.visit(node.right, right_prec)
        spaced = node.op in "+-"
        text = f"{left} {node.op} {right}" if spaced else f"{left}{node.op}{right}"
        return f"({text})" if outer > prec else text
