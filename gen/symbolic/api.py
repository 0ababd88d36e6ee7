"""derive(of, wrt, symbols) -> Result: the derivative in every layout, its steps, checked
by the verifier before it is returned.

    >>> r = derive("x.T*A*x", wrt="x", symbols={"x": "vector n", "A": "matrix n n"})
    >>> r.forms["denominator"]
    '(A + A.T)*x'
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from matderiv.catalog.load import Identity
from matderiv.catalog.schema import TENSOR_CATEGORIES
from matderiv.errors import CatalogError
from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.lang.forms import Prepared, _declarations, context
from matderiv.lang.latex import Printer, lhs
from matderiv.symbolic.core import Ctx, Refused, count
from matderiv.symbolic.layout import read_off
from matderiv.symbolic.linear import expand
from matderiv.symbolic.rules import differentiate
from matderiv.symbolic.simplify import tidy
from matderiv.symbolic.steps import StepLog

LAYOUT_ORDER = ("numerator", "denominator", "vec", "differential")


@dataclass
class Result:
    id: str
    title: str
    of: str
    wrt: str
    symbols: dict
    category: str
    forms: dict  # layout -> text
    trees: dict  # layout -> tree
    steps: StepLog
    decls: dict
    seconds: float = 0.0  # the derivation alone
    verify_seconds: float = 0.0
    verified: bool = False
    guarantee: str = ""
    notes: list = field(default_factory=list)
    conditions: list = field(default_factory=list)  # shape conditions (format 1.2)

    def identity(self) -> dict:
        """The identity in the catalog format, derivative and differential filled in."""
        derivative = {k: self.forms[k] for k in ("numerator", "denominator", "vec")
                      if k in self.forms}
        out = {"id": self.id, "title": self.title, "symbols": dict(self.symbols),
               "of": self.of, "wrt": self.wrt}
        if self.conditions:
            out["conditions"] = list(self.conditions)
        if derivative:
            out["derivative"] = derivative
        if "differential" in self.forms:
            out["differential"] = self.forms["differential"]
        return out

    def text(self, steps: bool = False) -> str:
        lines = [f"{self.id}: d({self.of}) / d{self.wrt}   [{self.category}]"]
        for name in LAYOUT_ORDER:
            if name in self.forms:
                lines.append(f"  {name:12} {self.forms[name]}")
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"  verified: {self.guarantee or 'no'}")
        if steps:
            lines.append("  steps:")
            lines += ["    " + line for line in self.steps.text().splitlines()]
        return "\n".join(lines)

    def latex(self, steps: bool = False) -> str:
        tex = Printer(self.decls)
        of_tex, of_prec = tex.tex(E.parse(self.of, _ctx_for(self)))
        wrt_tex = tex(E.Sym(self.wrt))
        matrix = self.decls[self.wrt].kind == "matrix"
        rows = []
        for name in LAYOUT_ORDER:
            if name in self.trees:
                left = lhs(of_tex, wrt_tex, name, matrix, of_prec)
                rows.append(rf"{left} &= {tex(self.trees[name])} && \text{{({name})}}")
        body = "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
        if steps:
            body += "\n" + self.steps.latex(self.decls)
        return body

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def as_dict(self) -> dict:
        return {"id": self.id, "category": self.category, "of": self.of, "wrt": self.wrt,
                "forms": dict(self.forms), "verified": self.verified,
                "guarantee": self.guarantee, "notes": list(self.notes),
                "steps": [s.as_dict() for s in self.steps.steps],
                "seconds": self.seconds, "verify_seconds": self.verify_seconds}


def _ctx_for(result: Result) -> E.Context:
    prep = Prepared(_identity(result.id, result.title, result.symbols, result.of, result.wrt))
    prep.decls = result.decls
    return context(prep, "of")


def parse_symbols(symbols) -> dict:
    """{"x": "vector n"} or "x: vector n; A: matrix n n" -> {name: declaration}."""
    if isinstance(symbols, dict):
        return {str(k): str(v) for k, v in symbols.items()}
    out = {}
    for part in str(symbols).replace("\n", ";").split(";"):
        if not part.strip():
            continue
        name, sep, decl = part.partition(":")
        if not sep:
            raise Refused("symbols", f"`{part.strip()}` is not `name: declaration`")
        out[name.strip()] = decl.strip()
    return out


def _identity(id_, title, symbols, of, wrt, derivative=None, differential=None,
              conditions=()) -> Identity:
    return Identity(id_, title, dict(symbols), of, wrt, dict(derivative or {}), differential,
                    [], [], None, [], None, None, "<derive>", 1, conditions=list(conditions))


def derive(of: str, wrt: str, symbols, *, check: bool = True, id: str = "derived",
           title: str | None = None, conditions=()) -> Result:
    """The derivative of `of` by `wrt`; Refused if it cannot be derived or checked
    (`conditions`, format 1.2: the shape conditions the check honours)."""
    symbols = parse_symbols(symbols)
    title = title or f"Derivative of {of}"
    started = time.perf_counter()
    prep = Prepared(_identity(id, title, symbols, of, wrt))
    _declarations(prep)
    if prep.problems:
        raise Refused("symbols", "; ".join(p.message for p in prep.problems))
    if wrt not in prep.decls:
        raise Refused("wrt", f"`{wrt}` is not declared")
    try:
        tree = E.parse(of, context(prep, "of"))
        of_shape = S.infer(tree, S.ShapeEnv(prep.decls, wrt, None, "of"))
    except CatalogError as exc:
        raise Refused("of", str(exc)) from None
    category = S.category(of_shape, prep.decls[wrt].shape)
    log = StepLog()
    try:
        trees = _engine(prep.decls, wrt, tree, of, category, of_shape, log)
    except Refused:
        raise
    except (CatalogError, ArithmeticError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, RecursionError) as exc:
        raise Refused(of, f"the engine could not handle it ({type(exc).__name__}: "
                      f"{exc})") from None
    trees = {k: tidy(v) for k, v in trees.items()}
    trees = {k: tidy(use_probability(v, prep.decls)) for k, v in trees.items()}
    forms = {k: E.to_text(v) for k, v in trees.items()}
    result = Result(id, title, of, wrt, symbols, category, forms, trees, log, prep.decls)
    result.conditions = list(conditions)
    result.seconds = time.perf_counter() - started
    if category in TENSOR_CATEGORIES and "vec" not in forms:
        result.notes.append("no vec form: the format cannot write this Jacobian; the "
                            "differential states the derivative")
    if check:
        check_result(result)
    return result


def _engine(decls, wrt, tree, of, category, of_shape, log) -> dict:
    ctx = Ctx(decls, wrt)
    d = differentiate(ctx, tree, log)
    if d is None:
        log.note("constant", f"`{of}` does not depend on {wrt}: every form is 0",
                 "dt-constant-matrix")
        return _zero(category)
    terms = expand(ctx, d)
    log.note("linearise", f"{len(terms)} term{'s' if len(terms) != 1 else ''} linear "
             f"in d{wrt}", None)
    return read_off(ctx, category, of_shape, terms, log)


def use_probability(tree, decls: dict):
    """1ᵀy = 1 where y is declared `probability` (format 1.1), and Y*ones = ones for a
    matrix of probability rows; nowhere else. y.T*ones(k), ones(k).T*y -> 1 (also at the
    end of a left-nested product, A*y.T*ones(k) -> A)."""

    def prob(node, transposed):
        if transposed:
            node = node.arg if isinstance(node, E.Transpose) else None
        return isinstance(node, E.Sym) and "probability" in decls[node.name].props and (
            decls[node.name].kind == "vector")

    def is_ones(node, transposed):
        if transposed:
            node = node.arg if isinstance(node, E.Transpose) else None
        return isinstance(node, E.Call) and node.fn == "ones" and len(node.args) == 1

    def unit(node):
        return (isinstance(node, E.Bin) and node.op == "*"
                and (prob(node.left, True) and is_ones(node.right, False)
                     or is_ones(node.left, True) and prob(node.right, False)))

    class Rewrite(E.Transformer):
        def _Bin(self, node):
            if unit(node):
                return E.Num(1)
            if node.op == "*" and isinstance(node.left, E.Bin) and node.left.op == "*" \
                    and unit(E.Bin("*", node.left.right, node.right)):
                return self.visit(node.left.left)
            left, right = self.visit(node.left), self.visit(node.right)
            if node.op == "*" and isinstance(left, E.Num) and left.value == 1:
                return right
            if node.op == "*" and isinstance(right, E.Num) and right.value == 1:
                return left
            return E.Bin(node.op, left, right)

    return Rewrite().visit(tree)


def _zero(category: str) -> dict:
    zero = E.Num(0)
    if category in TENSOR_CATEGORIES:
        return {"vec": zero, "differential": zero}
    return {"numerator": zero, "denominator": zero, "differential": zero}


def check_result(result: Result) -> None:
    """Run the result through the verifier; Refused unless every form is verified."""
    from matderiv.check.verify import verify_identity

    started = time.perf_counter()
    ident = identity_of(result)
    verdict = verify_identity(ident)
    result.verify_seconds = time.perf_counter() - started
    if verdict.status != "verified":
        reasons = "; ".join(message for _, message, _ in verdict.failures)
        if not reasons:
            from matderiv.lang.forms import prepare

            reasons = "; ".join(p.message for p in prepare(ident).problems) or verdict.status
        raise Refused(f"the derived form of {result.of}",
                      f"failed verification ({verdict.status}): {reasons}")
    result.verified = True
    result.guarantee = verdict.guarantee


def identity_of(result: Result) -> Identity:
    data = result.identity()
    return _identity(data["id"], data["title"], data["symbols"], data["of"], data["wrt"],
                     data.get("derivative"), data.get("differential"),
                     data.get("conditions", ()))


def nodes(text_or_tree) -> int:
    return count(text_or_tree)
