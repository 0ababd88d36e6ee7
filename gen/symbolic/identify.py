"""Identify the derivative in a linearised differential.

- scalar results (by a vector or a matrix): the trace trick. Each term is cycled to
  tr(G.T dX): for a term tr(P dX Q) the cotangent of dX is P.T * Q.T, pushed through
  tr, Hadamard products, diag and transposes (reverse accumulation on the linear
  terms). G is the denominator-layout derivative.
- vector and tensor results: d vec(Y) = J d vec(X), by vec(P dX Q) = kron(Q.T, P) vec(dX),
  diag(vec(A)) for a Hadamard factor, and so on. J is the numerator layout for a vector
  by a vector, the vec layout (Magnus-Neudecker) for the tensor categories.
- by a scalar t: the coefficient of dt (dU becomes diff(U, t)).

Each function returns a list of products (core.Prod) summing to the derivative.
"""

from __future__ import annotations

from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.symbolic.core import (
    ONE,
    UNIT,
    Ctx,
    Prod,
    Refused,
    eye,
    mono_mul,
    ones,
    prod_mul,
    size_node,
)
from matderiv.symbolic.linear import Lin, Term, transpose_term
from matderiv.symbolic.simplify import (
    T,
    assemble,
    factor,
    make_kron,
    normalize,
    prod_tree,
    product_tree,
    t_prod,
)


def _split(t: Term):
    for i, f in enumerate(t.chain):
        if isinstance(f, Lin):
            return t.chain[:i], f, t.chain[i + 1:]
    raise Refused("term", "no differential in a term (internal)")


def _chain_tree(ctx: Ctx, chain):
    return prod_tree(normalize(ctx, Prod(ONE, (), tuple(chain))))


# ---------------------------------------------------------------- the trace trick


def gradient(ctx: Ctx, terms: list[Term]) -> list[Prod]:
    """Denominator-layout gradient of a scalar: sum of G with d f = tr(G.T dX)."""
    out: list[Prod] = []
    for t in terms:
        out += _rev(ctx, t, UNIT)
    return out


def _rev(ctx: Ctx, t: Term, gbar: Prod) -> list[Prod]:
    g = Prod(t.coef * gbar.coef, _mono(t.mono, gbar.mono), gbar.chain)
    if t.slin is not None:
        if not t.chain:
            return _rev(ctx, t.slin, g)
        inner = _inner(ctx, g.chain, t.chain)
        return _rev(ctx, t.slin, Prod(g.coef, _mono(g.mono, ((inner, ONE),)), ()))
    before, lin, after = _split(t)
    chain = (tuple(T(ctx, f) for f in reversed(before)) + g.chain
             + tuple(T(ctx, f) for f in reversed(after)))
    return _rev_lin(ctx, lin, Prod(g.coef, g.mono, chain))


def _mono(a, b):
    return mono_mul(a, b)


def _inner(ctx: Ctx, g_chain, m_chain):
    """<G, M> as a scalar tree: G.T*M for vectors, tr(G.T*M) for matrices."""
    g = _chain_tree(ctx, g_chain)
    m = _chain_tree(ctx, m_chain)
    product = product_tree(ctx, [T(ctx, g), m])
    if ctx.scalar(product):
        return product
    return E.Call("tr", (product,))


def _rev_lin(ctx: Ctx, lin: Lin, g: Prod) -> list[Prod]:
    kind = lin.kind
    if kind in ("d", "dT"):
        if kind == "dT":
            g = t_prod(ctx, g)
        if lin.name == ctx.wrt:
            return [g]
        return [_dependent(ctx, lin.name, g)]
    if kind == "tr":
        n = lin.inner[0].shape[0]
        inside = Prod(g.coef, g.mono, g.chain + (eye(ctx, n),))
        return [p for t in lin.inner for p in _rev(ctx, t, inside)]
    if kind == "T":
        return [p for t in lin.inner for p in _rev(ctx, t, t_prod(ctx, g))]
    if kind == "had":
        gt = _chain_tree(ctx, g.chain)
        node = lin.arg if _all_ones(gt) else E.Call("hadamard", (lin.arg, gt))
        inside = Prod(g.coef, g.mono, (node,))
        return [p for t in lin.inner for p in _rev(ctx, t, inside)]
    if kind == "diag":
        gt = _chain_tree(ctx, g.chain)
        inner_shape = lin.inner[0].shape
        if inner_shape[1] == S.ONE:  # diag(v): the cotangent of v is diag(G)
            if isinstance(gt, E.Call) and gt.fn == "eye":
                node = ones(ctx, inner_shape[0])
            elif isinstance(gt, E.Call) and gt.fn == "diag":
                node = gt.args[0]
            else:
                node = E.Call("diag", (gt,))
        else:
            node = E.Call("diag", (gt,))
        inside = Prod(g.coef, g.mono, (node,))
        return [p for t in lin.inner for p in _rev(ctx, t, inside)]
    if kind == "vec":
        shape = lin.inner[0].shape
        if shape[1] == S.ONE:
            return [p for t in lin.inner for p in _rev(ctx, t, g)]
        if shape[0] == S.ONE:
            return [p for t in lin.inner for p in _rev(ctx, t, t_prod(ctx, g))]
        raise Refused("vec(dX)", "the gradient through vec of a matrix needs the inverse of "
                      "vec, which the format cannot write")
    raise Refused("kron(..., dX)", "a scalar of a Kronecker product with dX outside a trace "
                  "has no closed form in the format")


def _all_ones(node) -> bool:
    return isinstance(node, E.Call) and node.fn == "ones"


def _dependent(ctx: Ctx, name: str, g: Prod) -> Prod:
    decl = ctx.decl(name)
    diff = E.DiffOf(name, ctx.wrt)
    if S.is_scalar(decl.shape):
        return Prod(g.coef, g.mono, g.chain + (diff,))
    x_shape = ctx.decl(ctx.wrt).shape
    if decl.shape[1] == S.ONE and x_shape[1] == S.ONE:
        return Prod(g.coef, g.mono, (diff,) + g.chain)
    raise Refused(f"d{name}", f"diff({name}, {ctx.wrt}) of a {decl.kind} by a "
                  f"{ctx.decl(ctx.wrt).kind} has more than two axes: no 2-D layout can write "
                  "this chain rule")


# ---------------------------------------------------------------- J d vec(X)


def jacobian(ctx: Ctx, terms: list[Term]) -> list[Prod]:
    """d vec(Y) = J d vec(X): J as a sum of products."""
    out: list[Prod] = []
    for t in terms:
        out += _fwd(ctx, t)
    return out


def _vec_of(ctx: Ctx, chain) -> tuple:
    if not chain:
        return ()
    m = _chain_tree(ctx, chain)
    r, c = ctx.shape(m)
    if c == S.ONE:
        return factor(ctx, m).chain if not ctx.scalar(m) else ()
    if r == S.ONE:
        return (T(ctx, m),)
    return (E.Call("vec", (m,)),)


def _fwd(ctx: Ctx, t: Term) -> list[Prod]:
    s = Prod(t.coef, t.mono, ())
    if t.slin is not None:
        head = Prod(s.coef, s.mono, _vec_of(ctx, t.chain))
        if t.chain and ctx.scalar(_chain_tree(ctx, t.chain)):
            head = prod_mul(s, factor(ctx, _chain_tree(ctx, t.chain)))
        return [prod_mul(head, j) for j in _fwd(ctx, t.slin)]
    before, lin, after = _split(t)
    x_shape = ctx.decl(lin.name).shape if lin.kind == "dT" else None
    if x_shape is not None and S.ONE not in x_shape and S.ONE in t.shape:
        # vec of a vector is vec of its transpose: y = P dX.T Q -> y.T = Q.T dX P.T
        return _fwd(ctx, transpose_term(ctx, t, force=True))
    rows, cols = lin.shape
    k = UNIT
    if before or after:
        a = (product_tree(ctx, [T(ctx, f) for f in reversed(after)]) if after
             else (eye(ctx, cols) if cols != S.ONE else None))
        b = product_tree(ctx, list(before)) if before else (
            eye(ctx, rows) if rows != S.ONE else None)
        if a is None:
            k = factor(ctx, b)
        elif b is None:
            k = factor(ctx, a)
        else:
            k = factor(ctx, make_kron(ctx, a, b))
    head = prod_mul(s, k)
    return [prod_mul(head, j) for j in _fwd_lin(ctx, lin)]


def _identity(ctx: Ctx, shape) -> Prod:
    r, c = shape
    if c == S.ONE or r == S.ONE:
        n = r if c == S.ONE else c
        return Prod(ONE, (), (eye(ctx, n),)) if n != S.ONE else UNIT
    return Prod(ONE, (), (E.Call("kron", (eye(ctx, c), eye(ctx, r))),))


def _fwd_lin(ctx: Ctx, lin: Lin) -> list[Prod]:
    kind = lin.kind
    if kind in ("d", "dT"):
        shape = ctx.decl(lin.name).shape
        vector = shape[1] == S.ONE or shape[0] == S.ONE
        if kind == "dT" and not vector:  # vec(dXᵀ) = K_mn vec(dX) (format 1.2)
            sizes = [size_node(dim) for dim in shape]
            if None in sizes:
                raise Refused(f"d{lin.name}.T", f"a commutation matrix of sizes {shape} "
                              "cannot be written (the differential is given instead)")
            k = E.Call("commutation", tuple(sizes))
            if lin.name == ctx.wrt:
                return [Prod(ONE, (), (k,))]
            return [Prod(ONE, (), (k, E.DiffOf(lin.name, ctx.wrt)))]
        if lin.name == ctx.wrt:
            return [_identity(ctx, shape)]
        return [Prod(ONE, (), (E.DiffOf(lin.name, ctx.wrt),))]
    if kind == "tr":
        out = []
        for t in lin.inner:
            before, inner, after = _split(t)
            row = _rowvec(ctx, list(after) + list(before), inner.shape[0])
            head = Prod(t.coef, t.mono, row)
            out += [prod_mul(head, j) for j in _fwd_lin(ctx, inner)]
        return out
    if kind == "had":
        head = Prod(ONE, (), (_diag_vec(ctx, lin.arg),))
        return [prod_mul(head, j) for t in lin.inner for j in _fwd(ctx, t)]
    if kind == "diag":
        n = lin.inner[0].shape[0]
        i, o = eye(ctx, n), ones(ctx, n)
        if lin.inner[0].shape[1] == S.ONE:
            sel = E.Call("hadamard", (E.Call("kron", (i, o)), E.Call("kron", (o, i))))
        else:
            ot = E.Transpose(o)
            sel = E.Call("hadamard", (E.Call("kron", (i, ot)), E.Call("kron", (ot, i))))
        return [prod_mul(Prod(ONE, (), (sel,)), j) for t in lin.inner for j in _fwd(ctx, t)]
    if kind == "vec":
        return [j for t in lin.inner for j in _fwd(ctx, t)]
    if kind in ("kronL", "kronR", "T"):
        shape = lin.inner[0].shape
        if kind == "T" and shape[1] != S.ONE:  # vec(Mᵀ) = K_rc vec(M) (format 1.2)
            sizes = [size_node(dim) for dim in shape]
            if None in sizes:
                raise Refused("T", f"a commutation matrix of sizes {shape} cannot be written")
            head = Prod(ONE, (), (E.Call("commutation", tuple(sizes)),))
            return [prod_mul(head, j) for t in lin.inner for j in _fwd(ctx, t)]
        if shape[1] != S.ONE:
            raise Refused(kind, "vec of this Kronecker product or transpose needs the commutation "
                          "matrix (the differential is given instead)")
        if kind == "T":
            return [j for t in lin.inner for j in _fwd(ctx, t)]
        n = shape[0]
        arg = lin.arg
        if kind == "kronL":
            vec_a = arg if ctx.shape(arg)[1] == S.ONE else E.Call("vec", (arg,))
            head = Prod(ONE, (), (E.Call("kron", (vec_a, eye(ctx, n))),))
        else:
            if ctx.shape(arg)[1] != S.ONE:
                raise Refused("kron(dx, B)", "vec of kron(dx, B) for a matrix B needs the "
                              "commutation matrix (the differential is given instead)")
            head = Prod(ONE, (), (E.Call("kron", (eye(ctx, n), arg)),))
        return [prod_mul(head, j) for t in lin.inner for j in _fwd(ctx, t)]
    raise Refused(kind, "no identification rule")


def _rowvec(ctx: Ctx, chain: list, n) -> tuple:
    """vec(C.T).T: the row that tr(C L) = row * vec(L)."""
    if not chain:
        return (E.Transpose(E.Call("vec", (eye(ctx, n),))),)
    c = _chain_tree(ctx, chain)
    r, k = ctx.shape(c)
    if r == S.ONE:
        return factor(ctx, c).chain or (c,)
    if k == S.ONE:
        return (T(ctx, c),)
    return (E.Transpose(E.Call("vec", (T(ctx, c),))),)


def _diag_vec(ctx: Ctx, arg):
    r, c = ctx.shape(arg)
    if c == S.ONE:
        return E.Call("diag", (arg,))
    if r == S.ONE:
        return E.Call("diag", (T(ctx, arg),))
    return E.Call("diag", (E.Call("vec", (arg,)),))


# ---------------------------------------------------------------- by a scalar


def coefficient(ctx: Ctx, terms: list[Term]) -> list[Prod]:
    """The coefficient of dt: dY = C dt, dU -> diff(U, t)."""
    out: list[Prod] = []
    for t in terms:
        out += _coef(ctx, t)
    return out


def _coef(ctx: Ctx, t: Term) -> list[Prod]:
    s = Prod(t.coef, t.mono, ())
    if t.slin is not None:
        rest = Prod(ONE, (), t.chain)
        return [prod_mul(prod_mul(s, _scalarize(ctx, c)), rest) for c in _coef(ctx, t.slin)]
    before, lin, after = _split(t)
    return [prod_mul(prod_mul(prod_mul(s, Prod(ONE, (), before)), c), Prod(ONE, (), after))
            for c in _coef_lin(ctx, lin)]


def _scalarize(ctx: Ctx, p: Prod) -> Prod:
    """A 1 x 1 chain (u.T*diff(u, t)) becomes a scalar atom, so that it commutes."""
    if not p.chain:
        return p
    tree = _chain_tree(ctx, p.chain)
    if not ctx.scalar(tree):
        return p
    return Prod(p.coef, mono_mul(p.mono, ((tree, ONE),)), ())


def _coef_lin(ctx: Ctx, lin: Lin) -> list[Prod]:
    kind = lin.kind
    if kind in ("d", "dT"):
        if lin.name == ctx.wrt:
            return [UNIT]
        node = E.DiffOf(lin.name, ctx.wrt)
        if kind == "dT":
            node = T(ctx, node)
        return [factor(ctx, node)]
    inner = assemble(ctx, [p for t in lin.inner for p in _coef(ctx, t)])
    if kind == "tr":
        node = E.Call("tr", (inner,)) if not ctx.scalar(inner) else inner
    elif kind == "had":
        node = E.Call("hadamard", (lin.arg, inner))
    elif kind in ("diag", "vec"):
        node = E.Call(kind, (inner,))
    elif kind == "kronL":
        node = E.Call("kron", (lin.arg, inner))
    elif kind == "kronR":
        node = E.Call("kron", (inner, lin.arg))
    else:
        node = T(ctx, inner)
    return [factor(ctx, node)]
