"""Linearise: the differential tree d(of) -> a sum of terms, each linear in dX.

A term is `coef * atoms * [slin] * chain`, where exactly one place holds the
differential: either one factor of the chain is a Lin (dX, dX.T, or a linear function of
inner terms: tr, hadamard with a fixed array, diag, vec, kron with a fixed array), or
`slin` is a scalar (1 x 1) linear term that multiplies the Differential-free chain.
Nothing is expanded that does not hold dX: (A + A.T) and (X*W - Y) stay whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.symbolic.core import ONE, Ctx, Prod, Refused, mono_mul
from matderiv.symbolic.simplify import T, build_sum, factor, prod_tree, product_tree


@dataclass(frozen=True)
class Lin:
    kind: str  # d, dT, tr, had, diag, vec, kronL (kron(A, inner)), kronR (kron(inner, B)), T
    name: str | None = None  # d, dT: the symbol whose differential this is
    arg: object = None  # had, kronL, kronR: the fixed array
    inner: tuple = ()  # the inner terms
    shape: tuple = ()


@dataclass(frozen=True)
class Term:
    coef: Fraction
    mono: tuple
    chain: tuple
    slin: Term | None
    shape: tuple

    def scaled(self, coef=ONE, mono=()) -> Term:
        return Term(self.coef * coef, mono_mul(self.mono, mono), self.chain, self.slin,
                    self.shape)

    def bare(self) -> Term:
        return Term(ONE, (), self.chain, self.slin, self.shape)


def lin_term(lin: Lin) -> Term:
    return Term(ONE, (), (lin,), None, lin.shape)


def expand(ctx: Ctx, node) -> list[Term]:
    """Terms of a tree linear in the differentials."""
    if not ctx.has_d(node):
        raise Refused(E.to_text(node), "not linear in the differential (internal)")
    return _EXPAND.visit(node, ctx)


class _Expand(E.Visitor):
    """One method a kind of node that can carry a differential linearly; every other
    kind (a nonlinear function, a power) is refused by `_nonlinear`."""

    def _Differential(self, node, ctx):
        return [lin_term(Lin("d", node.name, shape=ctx.shape(node)))]

    def _Neg(self, node, ctx):
        return [t.scaled(-ONE) for t in expand(ctx, node.arg)]

    def _Bin(self, node, ctx):
        if node.op in "+-":
            right = expand(ctx, node.right)
            if node.op == "-":
                right = [t.scaled(-ONE) for t in right]
            return expand(ctx, node.left) + right
        if node.op == "*":
            return _product(ctx, node)
        if node.op == "/" and not ctx.has_d(node.right):
            q = factor(ctx, node.right)
            if q.chain:
                raise Refused(E.to_text(node), "division by a non-scalar")
            inv = tuple((a, -e) for a, e in q.mono)
            return [t.scaled(1 / q.coef, inv) for t in expand(ctx, node.left)]
        return self._nonlinear(node, ctx)

    def _Transpose(self, node, ctx):
        return [transpose_term(ctx, t) for t in expand(ctx, node.arg)]

    def _Call(self, node, ctx):
        return _call(ctx, node)

    def _nonlinear(self, node, ctx):
        raise Refused(E.to_text(node), "the differential sits inside a nonlinear function")

    _Apply = _Num = _Size = _Const = _Sym = _DiffOf = _nonlinear


_EXPAND = _Expand()


def _product(ctx: Ctx, node) -> list[Term]:
    left, right = node.left, node.right
    shape = ctx.shape(node)
    if ctx.has_d(left) and ctx.has_d(right):
        raise Refused(E.to_text(node), "a product of two differentials (not linear)")
    if ctx.has_d(left):
        fixed = factor(ctx, right)
        fixed_scalar = ctx.scalar(right)
        return [_times(ctx, t, fixed, fixed_scalar, shape, True) for t in expand(ctx, left)]
    fixed = factor(ctx, left)
    fixed_scalar = ctx.scalar(left)
    return [_times(ctx, t, fixed, fixed_scalar, shape, False) for t in expand(ctx, right)]


def _times(ctx: Ctx, t: Term, fixed, fixed_scalar: bool, shape, on_right: bool) -> Term:
    """t * fixed (on_right) or fixed * t, where fixed is a Prod."""
    coef, mono = t.coef * fixed.coef, mono_mul(t.mono, fixed.mono)
    if fixed_scalar:
        return Term(coef, mono, t.chain, t.slin, shape)
    if S.is_scalar(t.shape):  # a scalar-linear factor times a fixed array
        slin = t.slin if t.slin is not None and not t.chain else t.bare()
        return Term(coef, mono, fixed.chain, slin, shape)
    chain = t.chain + fixed.chain if on_right else fixed.chain + t.chain
    return Term(coef, mono, _diag_times_vector(ctx, chain), t.slin, shape)


def _diag_times_vector(ctx: Ctx, chain: tuple) -> tuple:
    """diag(dv)*w = hadamard(w, dv) for a column w (the product of the factors after it):
    the Jacobian is then diag(w), not a selection matrix of Kronecker products."""
    for i, lin in enumerate(chain):
        if not (isinstance(lin, Lin) and lin.kind == "diag" and lin.inner
                and lin.inner[0].shape[1] == S.ONE and lin.shape[0] == lin.shape[1]):
            continue
        rest = chain[i + 1:]
        if not rest or any(isinstance(f, Lin) for f in rest):
            continue
        w = product_tree(ctx, list(rest))
        if ctx.shape(w) == lin.inner[0].shape:
            had = Lin("had", arg=w, inner=lin.inner, shape=lin.inner[0].shape)
            return chain[:i] + (had,)
    return chain


def transpose_term(ctx: Ctx, t: Term, force: bool = False) -> Term:
    """The transpose of a term; a 1 x 1 term is its own transpose, and is rewritten only
    with force (a.T*dX.T*b -> b.T*dX*a)."""
    r, c = t.shape
    if S.is_scalar(t.shape) and not force:
        return t
    if t.slin is not None and not t.chain:
        return Term(t.coef, t.mono, (), transpose_term(ctx, t.slin, force), t.shape)
    chain = tuple(transpose_lin(ctx, f) if isinstance(f, Lin) else T(ctx, f)
                  for f in reversed(t.chain))
    return Term(t.coef, t.mono, chain, t.slin, (c, r))


def transpose_lin(ctx: Ctx, lin: Lin) -> Lin:
    r, c = lin.shape
    shape = (c, r)
    if lin.kind in ("d", "dT"):
        if lin.kind == "d" and lin.name != ctx.wrt and ctx.symmetric_symbol(lin.name):
            return lin
        if r == S.ONE and c == S.ONE:
            return lin
        return Lin("dT" if lin.kind == "d" else "d", lin.name, shape=shape)
    if lin.kind == "tr":
        return lin
    if lin.kind == "T":
        return lin.inner[0].chain[0] if _is_single(lin.inner) else Lin(
            "T", inner=lin.inner, shape=shape)
    if lin.kind == "had":
        return Lin("had", arg=T(ctx, lin.arg), inner=tuple(transpose_term(ctx, t)
                                                           for t in lin.inner), shape=shape)
    if lin.kind == "diag" and r == c:
        return lin
    return Lin("T", inner=(lin_term(lin),), shape=shape)


def _is_single(inner) -> bool:
    return (len(inner) == 1 and inner[0].coef == 1 and not inner[0].mono
            and inner[0].slin is None and len(inner[0].chain) == 1)


def _wrap(ctx: Ctx, kind: str, inner: list[Term], shape, arg=None,
          fixed_op=None) -> list[Term]:
    """A linear function applied to a sum: one term per inner term, scalars pulled out;
    an inner term s*M (s scalar-linear, M fixed) becomes s * f(M)."""
    out = []
    for t in inner:
        if t.slin is not None:
            fixed = fixed_op(prod_tree(_as_prod(t)))
            p = factor(ctx, fixed)
            out.append(Term(t.coef * p.coef, mono_mul(t.mono, p.mono), p.chain, t.slin,
                            shape))
            continue
        lin = Lin(kind, arg=arg, inner=(t.bare(),), shape=shape)
        out.append(Term(t.coef, t.mono, (lin,), None, shape))
    return out


def _as_prod(t: Term):
    return Prod(ONE, (), t.chain)


def _call(ctx: Ctx, node) -> list[Term]:
    fn, args = node.fn, node.args
    shape = ctx.shape(node)
    if fn == "tr":
        arg = args[0]
        if ctx.scalar(arg):
            return expand(ctx, arg)
        if isinstance(arg, E.Call) and arg.fn == "kron":  # tr(A (x) B) = tr(A) tr(B)
            a, b = arg.args
            return expand(ctx, E.Bin("*", E.Call("tr", (a,)), E.Call("tr", (b,))))
        return _wrap(ctx, "tr", expand(ctx, arg), shape,
                     fixed_op=lambda m: E.Call("tr", (m,)))
    if fn == "hadamard":
        a, b = args
        fixed, moving = (b, a) if ctx.has_d(a) else (a, b)
        if ctx.has_d(fixed):
            raise Refused(E.to_text(node), "a Hadamard product of two differentials")
        if ctx.scalar(fixed):
            return expand(ctx, E.Bin("*", fixed, moving))
        return _wrap(ctx, "had", expand(ctx, moving), shape, arg=fixed,
                     fixed_op=lambda m: E.Call("hadamard", (fixed, m)))
    if fn == "diag":
        return _wrap(ctx, "diag", expand(ctx, args[0]), shape,
                     fixed_op=lambda m: E.Call("diag", (m,)))
    if fn == "vec":
        return _wrap(ctx, "vec", expand(ctx, args[0]), shape,
                     fixed_op=lambda m: E.Call("vec", (m,)))
    if fn == "kron":
        a, b = args
        if ctx.has_d(a) and ctx.has_d(b):
            raise Refused(E.to_text(node), "a Kronecker product of two differentials")
        if ctx.has_d(b):
            return _wrap(ctx, "kronL", expand(ctx, b), shape, arg=a,
                         fixed_op=lambda m: E.Call("kron", (a, m)))
        return _wrap(ctx, "kronR", expand(ctx, a), shape, arg=b,
                     fixed_op=lambda m: E.Call("kron", (m, b)))
    raise Refused(E.to_text(node), f"the differential sits inside {fn}(...), which is not "
                  "linear")


# ---------------------------------------------------------------- back to trees


def lin_tree(ctx: Ctx, lin: Lin):
    if lin.kind == "d":
        return E.Differential(lin.name)
    if lin.kind == "dT":
        return E.Transpose(E.Differential(lin.name))
    inner = terms_tree(ctx, list(lin.inner))
    if lin.kind == "tr":
        return E.Call("tr", (inner,))
    if lin.kind == "had":
        return E.Call("hadamard", (lin.arg, inner))
    if lin.kind in ("diag", "vec"):
        return E.Call(lin.kind, (inner,))
    if lin.kind == "kronL":
        return E.Call("kron", (lin.arg, inner))
    if lin.kind == "kronR":
        return E.Call("kron", (inner, lin.arg))
    return E.Transpose(inner)


def term_tree(ctx: Ctx, t: Term):
    chain = tuple(lin_tree(ctx, f) if isinstance(f, Lin) else f for f in t.chain)
    if t.slin is not None:
        s = term_tree(ctx, t.slin)
        return prod_tree(Prod(t.coef, mono_mul(t.mono, ((s, ONE),)), chain))
    return prod_tree(Prod(t.coef, t.mono, chain))


def terms_tree(ctx: Ctx, terms: list):
    """A sum of terms as one tree, like terms added up."""
    seen: dict = {}
    order = []
    for t in terms:
        key = (t.mono, t.chain, t.slin)
        if key in seen:
            seen[key] = seen[key] + t.coef
        else:
            seen[key] = t.coef
            order.append((key, t))
    parts = []
    for key, t in order:
        c = seen[key]
        if c == 0:
            continue
        parts.append((1, term_tree(ctx, Term(c, t.mono, t.chain, t.slin, t.shape))))
    return build_sum(parts)
