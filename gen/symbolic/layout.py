"""Read the identified derivative off in every layout, by the format's rules.

- by a scalar: the coefficient of dt has the shape of Y (a row stays a row): that is the
  numerator form; the denominator form is its transpose.
- a scalar by a vector or a matrix: the trace trick gives G with the shape of X, the
  denominator form; the numerator form is G.T.
- a vector (column or row) by a vector: J, with d vec(Y) = J dx, is the numerator form;
  the denominator form is J.T.
- the tensor categories: J is the vec form (d vec(Y) / d vec(X).T); the differential is
  always given, so a derivative whose vec form the format cannot write is still stated.

The other layout is written from the first by the canonical transpose (simplify.flip:
diff(U, x) now stands for the other layout's array, the transpose of the first's), from
the transposed products, or as a wrapped `(...).T`, whichever has the fewest nodes.
"""

from __future__ import annotations

from matderiv.catalog.schema import TENSOR_CATEGORIES
from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.symbolic.core import ONE, Ctx, Prod, Refused, count, num
from matderiv.symbolic.identify import coefficient, gradient, jacobian
from matderiv.symbolic.linear import terms_tree
from matderiv.symbolic.simplify import (
    assemble,
    collect,
    factor,
    flip,
    flip_prod,
    normalize,
    prod_tree,
    product_tree,
)
from matderiv.symbolic.steps import StepLog


def read_off(ctx: Ctx, category: str, of_shape, terms, log: StepLog) -> dict:
    """{layout: tree} for numerator, denominator, vec, differential (those that exist)."""
    wrt = ctx.decl(ctx.wrt)
    forms: dict = {}
    d_wrt = "d" + ctx.wrt
    if S.is_scalar(wrt.shape):
        ctx.layout = "numerator"
        prods = coefficient(ctx, terms)
        first = assemble(ctx, prods)
        log.note("identify: coefficient of " + d_wrt,
                 f"d(of) = C*{d_wrt} with C = {E.to_text(first)}", "dt-linear")
        forms["numerator"], forms["denominator"] = _pair(ctx, prods, first, "numerator",
                                                         "denominator")
    elif S.is_scalar(of_shape):
        ctx.layout = "denominator"
        prods = gradient(ctx, terms)
        first = assemble(ctx, prods)
        log.note("identify: trace trick", f"d f = tr(G.T*{d_wrt}) with G = "
                 f"{E.to_text(first)}", "trace-ax")
        forms["denominator"], forms["numerator"] = _pair(ctx, prods, first, "denominator",
                                                         "numerator")
    elif category not in TENSOR_CATEGORIES:
        ctx.layout = "numerator"
        prods = jacobian(ctx, terms)
        first = assemble(ctx, prods)
        log.note("identify: J*dx", f"d vec(Y) = J*{d_wrt} with J = {E.to_text(first)}",
                 "jacobian-ax")
        forms["numerator"], forms["denominator"] = _pair(ctx, prods, first, "numerator",
                                                         "denominator")
    else:
        ctx.layout = "vec"
        try:
            prods = jacobian(ctx, terms)
            forms["vec"] = assemble(ctx, prods)
            log.note("identify: vec/Kronecker", "vec(A*dX*B) = kron(B.T, A)*vec(dX): "
                     f"J = {E.to_text(forms['vec'])}", "mm-axb")
        except Refused as exc:
            log.note("identify: vec/Kronecker", f"no vec form: {exc.reason}", None)
    ctx.layout = "numerator"
    forms["differential"] = _differential(ctx, category, of_shape, terms, forms)
    for name in ("numerator", "denominator", "vec", "differential"):
        if name in forms:
            log.note(f"layout: {name}", E.to_text(forms[name]), None)
    return forms


def _has_diff(tree) -> bool:
    return any(isinstance(n, E.DiffOf) for n in E.walk(tree))


def _pair(ctx: Ctx, prods, first, source: str, target: str):
    """Both layouts; the first is re-written from the second where that is shorter."""
    second = _other(ctx, prods, first, source, target)
    back = flip(ctx, second, source)
    if count(back) < count(first):
        first = back
    ctx.layout = source
    return first, second


def _other(ctx: Ctx, prods, first, source: str, target: str):
    """The other layout of `first` (a 2-D form): fewest nodes among three writings."""
    if isinstance(first, E.Num):
        return first
    ctx.layout = source
    normal = collect([normalize(ctx, p) for p in prods])
    pushed = flip(ctx, first, target)
    flipped = [flip_prod(ctx, p, target) for p in normal]
    candidates = [pushed]
    try:
        candidates.append(assemble(ctx, flipped))
    except Refused:
        pass
    if not _has_diff(first):
        candidates.append(E.Transpose(first))
    ctx.layout = target
    return min(candidates, key=count)


def _differential(ctx: Ctx, category: str, of_shape, terms, forms):
    """d(of): from the linear terms, or N*dX / tr(N*dX) where that is shorter."""
    linear = terms_tree(ctx, terms)
    numerator = forms.get("numerator")
    if numerator is None or _has_diff(numerator) or category in TENSOR_CATEGORIES:
        return linear
    d = E.Differential(ctx.wrt)
    wrt_shape = ctx.decl(ctx.wrt).shape
    if isinstance(numerator, E.Num) and numerator.value == 0:
        return num(0)
    product = product_tree(ctx, [numerator, d])
    if category == "scalar-by-matrix":
        p = normalize(ctx, factor(ctx, E.Bin("*", numerator, d)))
        inside = prod_tree(Prod(ONE, (), p.chain))
        candidate = prod_tree(Prod(p.coef, p.mono, (E.Call("tr", (inside,)),)))
    elif of_shape[0] == S.ONE and of_shape[1] != S.ONE and not S.is_scalar(wrt_shape):
        candidate = E.Transpose(product)
    else:
        candidate = product
    return candidate if count(candidate) <= count(linear) else linear
