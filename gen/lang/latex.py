"""The LaTeX printer: expression trees -> TeX math in the Matrix Cookbook's notation.

Bold lower case for vectors, bold upper case for matrices, italic scalars, ^\\top for the
transpose, \\otimes and \\circ for the Kronecker and Hadamard products. Format 1.1:
\\operatorname{ReLU}, H for the Heaviside step, \\operatorname{softmax}_{\\text{rows}} for the
row-wise softmax, \\pi; broadcasting is written as the plain sum (`X W + 1 b^T` is spelled
`X W + b^T`, as in the papers). Only math-mode
commands from a fixed list are emitted; a symbol name is letters and digits by the schema,
so no catalog text can inject TeX here.
"""

from __future__ import annotations

import re

from matderiv.lang import expr as E

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega", "Lambda",
}
ALIASES = {"lam": "lambda", "lamda": "lambda", "eps": "epsilon"}
FUNCTION_NAMES = {"log": r"\log", "exp": r"\exp", "sin": r"\sin", "cos": r"\cos",
                  "tanh": r"\tanh", "sigmoid": r"\sigma", "softmax": r"\operatorname{softmax}",
                  "diag": r"\operatorname{diag}", "vec": r"\operatorname{vec}",
                  "tr": r"\operatorname{tr}", "det": r"\det",
                  # format 1.1
                  "relu": r"\operatorname{ReLU}", "sign": r"\operatorname{sign}",
                  "step": r"\operatorname{H}", "erf": r"\operatorname{erf}",
                  "softmax_rows": r"\operatorname{softmax}_{\text{rows}}",
                  "log_softmax": r"\log\operatorname{softmax}",
                  "logsumexp": r"\operatorname{logsumexp}",
                  "sum": r"\operatorname{sum}", "mean": r"\operatorname{mean}",
                  # format 1.2
                  "tan": r"\tan", "logm": r"\operatorname{logm}"}
CONSTANT_NAMES = {"pi": r"\pi"}
# precedence: the one table of lang/expr (sum, Kronecker/Hadamard, product, unary minus,
# power/postfix, atom)
SUM, OTIMES, PRODUCT, NEG, POSTFIX, ATOM = E.SUM, E.OTIMES, E.PRODUCT, E.NEG, E.POWER, E.ATOM
# scalar functions applied entry by entry to an array: marked with a subscript circle,
# exp_∘(X), as the notation page explains (exp(X) alone would read as the matrix function)
ELEMENTWISE = {"log", "exp", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "sign", "step",
               "erf"}
# a named function applied to another one reads without parentheses: \log\det(X)
PREFIX = {"log", "exp", "det", "tr"}


def symbol(name: str, kind: str) -> str:
    """A declared name as TeX: x -> \\mathbf{x}, Sigma -> \\boldsymbol{\\Sigma}, x1 -> x_{1}."""
    stem = name.rstrip("0123456789")
    digits = name[len(stem):]
    stem = ALIASES.get(stem, stem)
    greek = stem in GREEK or stem == "lambda"
    base = "\\" + stem if greek else stem
    if len(stem) > 1 and not greek:
        base = r"\mathrm{" + stem + "}" if kind in ("scalar", "function") else stem
    if kind in ("vector", "matrix"):
        base = (r"\boldsymbol{" if greek else r"\mathbf{") + base + "}"
    return base + (f"_{{{digits}}}" if digits else "")


class Printer(E.Visitor):
    """Prints a tree as TeX; each method returns (text, precedence)."""

    def __init__(self, decls: dict, shape_of=None):
        self.decls = decls
        self.shape_of = shape_of  # node -> shape, to tell scalars from arrays

    def __call__(self, node) -> str:
        return self.tex(node)[0]

    def sym(self, name: str) -> str:
        decl = self.decls[name]
        return symbol(name, decl.kind)

    def tex(self, node) -> tuple[str, int]:
        return self.visit(node)

    def wrap(self, node, level: int) -> str:
        text, prec = self.tex(node)
        return text if prec >= level else rf"\left({text}\right)"

    def _Num(self, node):
        v = node.value
        if v.denominator == 1:
            return str(v.numerator), ATOM
        return rf"\tfrac{{{abs(v.numerator)}}}{{{v.denominator}}}", ATOM if v > 0 else NEG

    def _Sym(self, node):
        return self.sym(node.name), ATOM

    def _Size(self, node):
        return node.name, ATOM

    def _Const(self, node):
        return CONSTANT_NAMES[node.name], ATOM

    def _Differential(self, node):
        return r"\mathrm{d}" + self.sym(node.name), ATOM

    def _DiffOf(self, node):
        return rf"\frac{{\partial {self.sym(node.name)}}}{{\partial {self.sym(node.wrt)}}}", ATOM

    def _Neg(self, node):
        return "-" + self.wrap(node.arg, PRODUCT), NEG

    def _Transpose(self, node):
        inner = node.arg
        if isinstance(inner, E.Call) and inner.fn == "inv":
            return self.wrap(inner.args[0], ATOM) + r"^{-\top}", POSTFIX
        return self.wrap(inner, ATOM) + r"^{\top}", POSTFIX

    def _Bin(self, node):
        op = node.op
        if op in "+-":
            right = self.wrap(node.right, SUM + 1 if op == "-" else SUM)
            if op == "+" and right.startswith("-"):
                right = rf"\left({right}\right)"
            return f"{self.wrap(node.left, SUM)} {op} {right}", SUM
        if op == "/":
            if self._array(node.right):  # entry by entry (format 1.2)
                return (rf"{self.wrap(node.left, POSTFIX)} \oslash "
                        rf"{self.wrap(node.right, POSTFIX)}"), OTIMES
            return rf"\frac{{{self(node.left)}}}{{{self(node.right)}}}", ATOM
        if op == "**":
            if self._array(node.left) and self._vector(node.left):  # entry by entry (1.2)
                return self.wrap(node.left, ATOM) + rf"^{{\circ {self(node.right)}}}", POSTFIX
            return self._power(node)
        return self._product(node), PRODUCT

    def _array(self, node) -> bool:
        return self.shape_of is not None and tuple(self.shape_of(node)) != (1, 1)

    def _vector(self, node) -> bool:
        rows, cols = self.shape_of(node)
        return (rows == 1) != (cols == 1)

    def _product(self, node) -> str:
        left = self.wrap(node.left, PRODUCT)
        right = self.wrap(node.right, POSTFIX)
        if right[0].isdigit() or (left[-1].isdigit() and right[0].isdigit()):
            return left + r" \cdot " + right
        return left + " " + right

    def _power(self, node):
        exponent = self(node.right)
        if isinstance(node.left, E.Transpose):
            base = self.wrap(node.left.arg, ATOM) + r"^{\top}"
            return rf"\left({base}\right)^{{{exponent}}}", POSTFIX
        return self.wrap(node.left, ATOM) + f"^{{{exponent}}}", POSTFIX

    def _Call(self, node):
        fn, args = node.fn, node.args
        if fn in ("eye", "ones", "zeros"):
            return self._constant(fn, args), ATOM
        if fn == "inv":
            return self.wrap(args[0], ATOM) + "^{-1}", POSTFIX
        if fn == "kron":
            return rf"{self.wrap(args[0], POSTFIX)} \otimes {self.wrap(args[1], POSTFIX)}", OTIMES
        if fn == "hadamard":
            return rf"{self.wrap(args[0], POSTFIX)} \circ {self.wrap(args[1], POSTFIX)}", OTIMES
        if fn == "hadamard_div":
            return rf"{self.wrap(args[0], POSTFIX)} \oslash {self.wrap(args[1], POSTFIX)}", OTIMES
        if fn == "hadamard_pow":
            return self.wrap(args[0], ATOM) + rf"^{{\circ {self(args[1])}}}", POSTFIX
        if fn == "pinv":
            return self.wrap(args[0], ATOM) + "^{+}", POSTFIX
        if fn == "expm":
            return rf"e^{{{self(args[0])}}}", POSTFIX  # a superscript: wrapped before another
        if fn == "commutation":
            return rf"\mathbf{{K}}_{{{self(args[0])} {self(args[1])}}}", ATOM
        if fn == "sqrt":
            return rf"\sqrt{{{self(args[0])}}}", ATOM
        if fn == "abs":
            return rf"\left|{self(args[0])}\right|", ATOM
        if fn == "norm":
            return self._norm(args[0]), ATOM
        name = FUNCTION_NAMES[fn]
        if fn in ELEMENTWISE and self._array(args[0]):
            name += r"_{\circ}"
        inner = args[0]
        if (fn in PREFIX and name == FUNCTION_NAMES[fn] and isinstance(inner, E.Call)
                and inner.fn in PREFIX and not self._array(inner)):
            return rf"{name} {self(inner)}", ATOM  # \log\det(X), not \log(\det(X))
        return rf"{name}\left({self(inner)}\right)", ATOM

    def _norm(self, arg) -> str:
        matrix = self.shape_of is not None and all(s != 1 for s in self.shape_of(arg))
        return rf"\left\lVert {self(arg)} \right\rVert" + ("_F" if matrix else "")

    def _constant(self, fn, args) -> str:
        sizes = r" \times ".join(self(a) for a in args)
        letter = {"eye": r"\mathbf{I}", "ones": r"\mathbf{1}", "zeros": r"\mathbf{0}"}[fn]
        return f"{letter}_{{{sizes}}}"

    def _Apply(self, node):
        head = self.sym(node.fn) + ("'" * node.order)
        return rf"{head}\left({self(node.arg)}\right)", ATOM


# ---------------------------------------------------------------- plain text

GREEK_LETTERS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ",
    "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Xi": "Ξ", "Pi": "Π",
    "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "Lambda": "Λ",
}
_SUPERSCRIPTS = dict(zip("0123456789+-−=()inkmTt", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁱⁿᵏᵐᵀᵗ", strict=True))
_SUBSCRIPTS = dict(zip("0123456789+-−=()aeoxhklmnpstijruv",
                       "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ", strict=True))
PLAIN_FUNCTION_NAMES = {"sigmoid": "σ", "relu": "ReLU", "step": "H",
                        "softmax_rows": "softmax_rows", "log_softmax": "log softmax"}


def superscript(text: str) -> str:
    """`-1` as `⁻¹` when Unicode has every character raised, else `^(…)` (`^x` for one)."""
    if text and all(c in _SUPERSCRIPTS for c in text):
        return "".join(_SUPERSCRIPTS[c] for c in text)
    return "^" + (text if len(text) == 1 else f"({text})")


def subscript(text: str) -> str:
    """`n` as `ₙ` when Unicode has every character lowered, else `_F` or `_(…)`."""
    if text and all(c in _SUBSCRIPTS for c in text):
        return "".join(_SUBSCRIPTS[c] for c in text)
    return "_" + (text if len(text) == 1 else f"({text})")


def plain_symbol(name: str) -> str:
    """A declared name as plain text: x -> x, Sigma -> Σ, lam -> λ, x1 -> x₁."""
    stem = name.rstrip("0123456789")
    digits = name[len(stem):]
    stem = ALIASES.get(stem, stem)
    return GREEK_LETTERS.get(stem, stem) + (subscript(digits) if digits else "")


_JOIN = "\x00"  # between two factors of a product until the text is complete
_LETTERS = re.compile(r"[A-Za-z]+")


def _unjoin(text: str) -> str:
    """Products written side by side (`Ax`, `xᵀAx`, `2x`), with a space where two names
    would run together (`a tr(X)`, `rate x`) and a dot between two numbers (`2·3`)."""
    parts = text.split(_JOIN)
    out = parts[0]
    for before, after in zip(parts, parts[1:], strict=False):
        tail = re.search(r"[A-Za-z]+$", before)
        head = _LETTERS.match(after)
        if before[-1:].isdigit() and after[:1].isdigit():
            out += "·"
        elif tail and head and max(len(tail.group()), len(head.group())) > 1:
            out += " "
        out += after
    return out


class PlainPrinter(E.Visitor):
    """The plain-text twin of `Printer`: a tree as readable Unicode (`xᵀAx`,
    `‖XW − Y‖_F²`, `log det(X)`, `A ⊗ B`) for the places that cannot hold math, such
    as a browser tab's title or a table of contents. Same tree, same precedence (the one
    table of lang/expr), same parentheses as the TeX; letters stay plain (no bold),
    products are juxtaposed, spaced only where two names would run together."""

    def __init__(self, decls: dict, shape_of=None):
        self.decls = decls
        self.shape_of = shape_of

    def __call__(self, node) -> str:
        return _unjoin(self.visit(node)[0])

    def wrap(self, node, level: float) -> str:
        text, prec = self.visit(node)
        return text if prec >= level else f"({text})"

    def _array(self, node) -> bool:
        return self.shape_of is not None and tuple(self.shape_of(node)) != (1, 1)

    def _Num(self, node):
        v = node.value
        if v.denominator == 1:
            return (str(v.numerator), ATOM) if v >= 0 else (f"−{-v.numerator}", NEG)
        return f"{'−' if v < 0 else ''}{abs(v.numerator)}/{v.denominator}", NEG if v < 0 \
            else PRODUCT

    def _Sym(self, node):
        return plain_symbol(node.name), ATOM

    def _Size(self, node):
        return node.name, ATOM

    def _Const(self, node):
        return GREEK_LETTERS.get(node.name, node.name), ATOM

    def _Differential(self, node):
        return "d" + plain_symbol(node.name), ATOM

    def _DiffOf(self, node):
        return f"∂{plain_symbol(node.name)}/∂{plain_symbol(node.wrt)}", PRODUCT

    def _Neg(self, node):
        return "−" + self.wrap(node.arg, PRODUCT), NEG

    def _Transpose(self, node):
        inner = node.arg
        if isinstance(inner, E.Call) and inner.fn == "inv":
            return self.wrap(inner.args[0], ATOM) + "⁻ᵀ", POSTFIX
        return self.wrap(inner, ATOM) + "ᵀ", POSTFIX

    def _Bin(self, node):
        op = node.op
        if op in "+-":
            right = self.wrap(node.right, SUM + 1 if op == "-" else SUM)
            if op == "+" and right.startswith("−"):
                right = f"({right})"
            return f"{self.wrap(node.left, SUM)} {'+' if op == '+' else '−'} {right}", SUM
        if op == "/":
            if self._array(node.right):
                return f"{self.wrap(node.left, POSTFIX)} ⊘ {self.wrap(node.right, POSTFIX)}", \
                    OTIMES
            return f"{self.wrap(node.left, PRODUCT)}/{self.wrap(node.right, POSTFIX)}", PRODUCT
        if op == "**":
            exponent = self(node.right)
            if self._array(node.left) and self._vector(node.left):
                return self.wrap(node.left, ATOM) + superscript("∘" + exponent), POSTFIX
            return self.wrap(node.left, ATOM) + superscript(exponent), POSTFIX
        return self.wrap(node.left, PRODUCT) + _JOIN + self.wrap(node.right, POSTFIX), PRODUCT

    def _vector(self, node) -> bool:
        rows, cols = self.shape_of(node)
        return (rows == 1) != (cols == 1)

    def _Call(self, node):
        fn, args = node.fn, node.args
        if fn in ("eye", "ones", "zeros"):
            letter = {"eye": "I", "ones": "1", "zeros": "0"}[fn]
            return letter + subscript("×".join(self(a) for a in args)), ATOM
        if fn == "inv":
            return self.wrap(args[0], ATOM) + "⁻¹", POSTFIX
        if fn in ("kron", "hadamard", "hadamard_div"):
            sign = {"kron": "⊗", "hadamard": "∘", "hadamard_div": "⊘"}[fn]
            return f"{self.wrap(args[0], POSTFIX)} {sign} {self.wrap(args[1], POSTFIX)}", OTIMES
        if fn == "hadamard_pow":
            return self.wrap(args[0], ATOM) + superscript("∘" + self(args[1])), POSTFIX
        if fn == "pinv":
            return self.wrap(args[0], ATOM) + "⁺", POSTFIX
        if fn == "expm":
            return f"e{superscript(self(args[0]))}", POSTFIX
        if fn == "commutation":
            return "K" + subscript(self(args[0]) + self(args[1])), ATOM
        if fn == "sqrt":
            return "√" + self.wrap(args[0], ATOM), ATOM
        if fn == "abs":
            return f"|{self(args[0])}|", ATOM
        if fn == "norm":
            matrix = self.shape_of is not None and all(s != 1 for s in self.shape_of(args[0]))
            return f"‖{self(args[0])}‖" + ("_F" if matrix else ""), ATOM
        name = PLAIN_FUNCTION_NAMES.get(fn, fn)
        if fn in ELEMENTWISE and self._array(args[0]):
            name += "∘"
        inner = args[0]
        if (fn in PREFIX and not name.endswith("∘") and isinstance(inner, E.Call)
                and inner.fn in PREFIX and not self._array(inner)):
            return f"{name} {self(inner)}", ATOM  # log det(X), as the TeX
        return f"{name}({self(inner)})", ATOM

    def _Apply(self, node):
        return f"{plain_symbol(node.fn)}{'′' * node.order}({self(node.arg)})", ATOM


def lhs(of_tex: str, wrt_tex: str, layout: str, matrix: bool = False,
        of_prec: float = SUM) -> str:
    """The left-hand side of a form: d(of)/d(wrt) written for its layout (`matrix`: the
    variable is a matrix, whose Hessian is taken with respect to its vec).

    `of_prec` is the precedence of `of_tex` as the printer reports it (`Printer.tex`, the
    one table of lang/expr); the default, the loosest, keeps the parentheses. The
    parentheses go where precedence needs them and nowhere else:

    - ∂ binds like a function name written without parentheses (`\\log\\det X`): a
      symbol, a call (`\\operatorname{tr}(AX)`, `\\log\\det X`, a norm), a transpose, an
      inverse or a power follow it bare, `∂ log det X / ∂X`; a product, a Kronecker or
      Hadamard product, a negation and a sum are parenthesised, `∂(xᵀAx)/∂x` (the
      Matrix Cookbook drops even those; read bare, `∂ aᵀx` could be `(∂aᵀ) x`).
    - d (the differential) takes atoms only: `d(X⁻¹)` or `d(x²)` bare would read as
      `(dX)⁻¹` and `(dx)²`, which are other things.
    - vec keeps the parentheses of a function call, as every call does.
    """
    of = of_tex if of_prec >= POSTFIX else rf"\left({of_tex}\right)"
    if layout == "hessian":  # format 1.2
        x = rf"\operatorname{{vec}}\left({wrt_tex}\right)" if matrix else wrt_tex
        return rf"\frac{{\partial^2 {of}}}{{\partial {x}\,\partial {x}^{{\top}}}}"
    if layout == "symmetric_tied":  # format 1.2: X_ij and X_ji one variable
        return (rf"\left.\frac{{\partial {of}}}{{\partial {wrt_tex}}}"
                rf"\right|_{{{wrt_tex}_{{ij}} \equiv {wrt_tex}_{{ji}}}}")
    if layout == "differential":
        atom = of_tex if of_prec >= ATOM else rf"\left({of_tex}\right)"
        return rf"\mathrm{{d}}{atom}"
    if layout == "vec":
        return (rf"\frac{{\partial \operatorname{{vec}}\left({of_tex}\right)}}"
                rf"{{\partial \operatorname{{vec}}\left({wrt_tex}\right)^{{\top}}}}")
    if layout == "vec_denominator":
        return (rf"\frac{{\partial \operatorname{{vec}}\left({of_tex}\right)^{{\top}}}}"
                rf"{{\partial \operatorname{{vec}}\left({wrt_tex}\right)}}")
    return rf"\frac{{\partial {of}}}{{\partial {wrt_tex}}}"
