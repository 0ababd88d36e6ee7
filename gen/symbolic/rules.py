"""The differential rules: one rule per node kind, in ONE table, each tagged with the
catalog identity it instantiates (None where the catalog has no identity for it).

`differentiate(ctx, tree, log)` returns d(tree) as a parse tree holding the differentials
(dX, and dU for symbols declared `of X`), or None for zero. A node that no rule covers
is refused (Refused names it); nothing unknown ever becomes 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from matderiv.catalog.schema import ELEMENTWISE
from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.symbolic.core import Ctx, Refused, eye, num, ones
from matderiv.symbolic.steps import StepLog


@dataclass(frozen=True)
class Rule:
    name: str
    catalog_id: str | None
    formula: str  # the rule as text, for the step log
    fn: object


# ---------------------------------------------------------------- smart constructors


def add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(b, E.Neg):
        return E.Bin("-", a, b.arg)
    return E.Bin("+", a, b)


def sub(a, b):
    if b is None:
        return a
    if a is None:
        return neg(b)
    return E.Bin("-", a, b)


def neg(a):
    if a is None:
        return None
    if isinstance(a, E.Neg):
        return a.arg
    return E.Neg(a)


def mul(*factors):
    if any(f is None for f in factors):
        return None
    out = None
    for f in factors:
        if isinstance(f, E.Num) and f.value == 1:
            continue
        out = f if out is None else E.Bin("*", out, f)
    return out if out is not None else num(1)


def div(a, b):
    if a is None:
        return None
    return E.Bin("/", a, b)


def power(base, k):
    if isinstance(k, int | Fraction):
        if k == 1:
            return base
        return E.Bin("**", base, num(k) if k > 0 else E.Neg(num(-k)))
    return E.Bin("**", base, k)


# ---------------------------------------------------------------- the rules


def _zero(ctx, node, d):
    return None


def _symbol(ctx, node, d):
    decl = ctx.decl(node.name)
    if node.name == ctx.wrt or decl.depends_on:
        return E.Differential(node.name)
    return None


def _neg(ctx, node, d):
    return neg(d(node.arg))


def _sum(ctx, node, d):
    left, right = d(node.left), d(node.right)
    shape = ctx.shape(node)
    left = _spread(ctx, left, ctx.shape(node.left), shape)
    right = _spread(ctx, right, ctx.shape(node.right), shape)
    return add(left, right) if node.op == "+" else sub(left, right)


def _spread(ctx, du, small, big):
    """A broadcast operand's differential made explicit (format 1.1): a scalar times ones,
    a row 1 × q as ones(m)*row, a column m × 1 as column*ones(q).T; so a bias's derivative
    sums over the broadcast axis (ones(m).T*G) when it is read off."""
    if du is None or small == big:
        return du
    rows, cols = big
    if S.is_scalar(small):
        if cols == S.ONE:
            return mul(du, ones(ctx, rows))
        if rows == S.ONE:
            return mul(du, E.Transpose(ones(ctx, cols)))
        return mul(du, ones(ctx, rows, cols))
    if small[0] == S.ONE:
        return mul(ones(ctx, rows), du)
    return mul(du, E.Transpose(ones(ctx, cols)))


def _count(ctx, shape):
    """The number of entries of a shape as an expression of sizes (for mean)."""
    from matderiv.symbolic.core import size_node

    factors = []
    for dim in shape:
        if dim == S.ONE:
            continue
        node = size_node(dim)
        if node is None:
            raise Refused("mean", f"the size {dim} cannot be written in the format")
        factors.append(node)
    return mul(*factors) if factors else num(1)


def _sum_all(ctx, u, du):
    """sum(dU) as products with ones: ones(r).T*dU*ones(c)."""
    r, c = ctx.shape(u)
    out = du
    if r != S.ONE:
        out = mul(E.Transpose(ones(ctx, r)), out)
    if c != S.ONE:
        out = mul(out, ones(ctx, c))
    return out


def _sum_call(ctx, node, d):
    u = node.args[0]
    du = d(u)
    if du is None:
        return None
    out = _sum_all(ctx, u, du)
    return div(out, _count(ctx, ctx.shape(u))) if node.fn == "mean" else out


def _logsumexp(ctx, node, d):
    u = node.args[0]
    du = d(u)
    if du is None:
        return None
    r, c = ctx.shape(u)
    if c == S.ONE:
        return mul(E.Transpose(E.Call("softmax", (u,))), du)
    if r == S.ONE:
        return mul(du, E.Transpose(E.Call("softmax", (u,))))
    weights = E.Bin("/", E.Call("exp", (u,)), E.Call("sum", (E.Call("exp", (u,)),)))
    return E.Call("tr", (mul(E.Transpose(weights), du),))


def _softmax_any(ctx, node, d):
    """softmax of a column: (diag(s) - s*s.T)*du; of a row: du*(diag(s.T) - s.T*s)."""
    u = node.args[0]
    if ctx.shape(u)[1] == S.ONE:
        return _softmax(ctx, node, d)
    du = d(u)
    if du is None:
        return None
    st = E.Transpose(node)
    return mul(du, E.Bin("-", E.Call("diag", (st,)), mul(st, node)))


def _log_softmax_call(ctx, node, d):
    """log_softmax(u) = u - logsumexp(u): du - ones*(softmax(u).T*du) for a column,
    du - (du*softmax(u).T)*ones.T for a row."""
    u = node.args[0]
    du = d(u)
    if du is None:
        return None
    r, c = ctx.shape(u)
    s = E.Call("softmax", (u,))
    if c == S.ONE:
        return sub(du, mul(ones(ctx, r), mul(E.Transpose(s), du)))
    return sub(du, mul(mul(du, E.Transpose(s)), E.Transpose(ones(ctx, c))))


def _softmax_rows(ctx, node, d):
    """Row by row: dS = S o dZ - S o ((S o dZ)*ones*ones.T)."""
    z = node.args[0]
    dz = d(z)
    if dz is None:
        return None
    n = ctx.shape(z)[1]
    first = E.Call("hadamard", (node, dz))
    spread = mul(first, ones(ctx, n), E.Transpose(ones(ctx, n)))
    return sub(first, E.Call("hadamard", (node, spread)))


def _product(ctx, node, d):
    left, right = d(node.left), d(node.right)
    return add(mul(left, node.right) if left is not None else None,
               mul(node.left, right) if right is not None else None)


def _quotient(ctx, node, d):
    top, bottom = d(node.left), d(node.right)
    first = div(top, node.right) if top is not None else None
    if bottom is None:
        return first
    return sub(first, div(mul(node.left, bottom), power(node.right, 2)))


def _scalar_power(ctx, node, d):
    base, exponent = node.left, node.right
    du, dv = d(base), d(exponent)
    out = None
    if du is not None:
        k = E.literal_value(exponent)
        if k is not None and isinstance(base, E.Call) and base.fn == "norm":
            inner = _inner(ctx, base.args[0], d(base.args[0]))
            lead = num(k) if k != 1 else None
            rest = power(base, k - 2) if k != 2 else None
            out = mul(*(f for f in (lead, rest, inner) if f is not None))
        elif k is not None:
            lead = num(k) if k != 1 else None
            rest = power(base, k - 1) if k != 1 else None
            out = mul(*(f for f in (lead, rest, du) if f is not None))
        else:
            out = mul(exponent, power(base, E.Bin("-", exponent, num(1))), du)
    if dv is not None:
        out = add(out, mul(node, E.Call("log", (base,)), dv))
    return out


def _norm_power_rule(ctx, node):
    return isinstance(node.left, E.Call) and node.left.fn == "norm"


def _matrix_power(ctx, node, d):
    base = node.left
    k = S.integer_exponent(node.right)
    if k is None:  # X**k with k declared `integer` (format 1.2): a sum of k terms
        raise Refused("matrix power", f"`{E.to_text(node)}` has a symbolic exponent; the "
                      "engine expands integer literal powers only")
    du = d(base)
    if du is None or k == 0:
        return None
    if k > 0:
        out = None
        for i in range(k):
            left = power(base, i) if i else None
            right = power(base, k - 1 - i) if k - 1 - i else None
            out = add(out, mul(*(f for f in (left, du, right) if f is not None)))
        return out
    inv = E.Call("inv", (base,))
    m = -k

    def inv_power(j):
        return inv if j == 1 else power(base, -j)

    out = None
    for i in range(m):
        left = inv_power(i + 1)
        right = inv_power(m - i)
        out = add(out, neg(mul(left, du, right)))
    return out


def _transpose(ctx, node, d):
    inner = d(node.arg)
    return E.Transpose(inner) if inner is not None else None


def _trace(ctx, node, d):
    inner = d(node.args[0])
    return E.Call("tr", (inner,)) if inner is not None else None


def _det(ctx, node, d):
    u = node.args[0]
    du = d(u)
    if du is None:
        return None
    return mul(node, E.Call("tr", (mul(E.Call("inv", (u,)), du),)))


def _log_det(ctx, node, d):
    inner = node.args[0]
    u = inner.args[0] if inner.fn == "det" else inner.args[0].args[0]
    du = d(u)
    if du is None:
        return None
    return E.Call("tr", (mul(E.Call("inv", (u,)), du),))


def _inverse(ctx, node, d):
    u = node.args[0]
    du = d(u)
    if du is None:
        return None
    return neg(mul(node, du, node))


def _kron(ctx, node, d):
    a, b = node.args
    da, db = d(a), d(b)
    return add(E.Call("kron", (da, b)) if da is not None else None,
               E.Call("kron", (a, db)) if db is not None else None)


def _hadamard(ctx, node, d):
    a, b = node.args
    da, db = d(a), d(b)
    return add(E.Call("hadamard", (da, b)) if da is not None else None,
               E.Call("hadamard", (a, db)) if db is not None else None)


def _linear_call(ctx, node, d):
    inner = d(node.args[0])
    return E.Call(node.fn, (inner,)) if inner is not None else None


def _inner(ctx, u, du):
    """<U, dU>: u*du for a scalar, u.T*du for a vector, tr(U.T*dU) for a matrix."""
    shape = ctx.shape(u)
    if S.is_scalar(shape):
        return mul(u, du)
    if shape[1] == S.ONE:
        return mul(E.Transpose(u), du)
    if shape[0] == S.ONE:
        return mul(u, E.Transpose(du))
    return E.Call("tr", (mul(E.Transpose(u), du),))


def _norm(ctx, node, d):
    u = node.args[0]
    du = d(u)
    if du is None:
        return None
    return div(_inner(ctx, u, du), node)


def _softmax(ctx, node, d):
    u = node.args[0]
    du = d(u)
    if du is None:
        return None
    return mul(E.Bin("-", E.Call("diag", (node,)), mul(node, E.Transpose(node))), du)


def _log_softmax(ctx, node, d):
    s = node.args[0]
    u = s.args[0]
    if ctx.shape(u)[1] != S.ONE:  # a row vector
        return _log_softmax_call(ctx, E.Call("log_softmax", (u,)), d)
    du = d(u)
    if du is None:
        return None
    n = ctx.shape(u)[0]
    return sub(du, mul(ones(ctx, n), mul(E.Transpose(s), du)))


def _log_sum_exp(ctx, node, d):
    u = node.args[0].right.args[0]
    du = d(u)
    if du is None:
        return None
    return mul(E.Transpose(E.Call("softmax", (u,))), du)


def _softplus(ctx, node, d):
    u = _softplus_arg(node)
    du = d(u)
    if du is None:
        return None
    s = E.Call("sigmoid", (u,))
    return mul(s, du) if ctx.scalar(u) else E.Call("hadamard", (s, du))


def _softplus_arg(node):
    """log(1 + exp(u)), log(ones + exp(u)): u, else None."""
    arg = node.args[0]
    if not (isinstance(arg, E.Bin) and arg.op == "+"):
        return None
    one, e = arg.left, arg.right
    unit = (isinstance(one, E.Num) and one.value == 1) or (
        isinstance(one, E.Call) and one.fn == "ones")
    if unit and isinstance(e, E.Call) and e.fn == "exp":
        return e.args[0]
    return None


def _log_sum_exp_arg(node):
    """log(ones(n).T*exp(u)) for a column u: u, else None."""
    arg = node.args[0]
    if not (isinstance(arg, E.Bin) and arg.op == "*"):
        return None
    a, b = arg.left, arg.right
    if (isinstance(a, E.Transpose) and isinstance(a.arg, E.Call) and a.arg.fn == "ones"
            and isinstance(b, E.Call) and b.fn == "exp"):
        return b.args[0]
    return None


def _log_sigmoid_arg(node):
    """log(sigmoid(u)) -> (u, False); log(1 - sigmoid(u)), log(ones - sigmoid(u)) ->
    (u, True); else None."""
    arg = node.args[0]
    if isinstance(arg, E.Call) and arg.fn == "sigmoid":
        return arg.args[0], False
    if isinstance(arg, E.Bin) and arg.op == "-":
        one, s = arg.left, arg.right
        unit = (isinstance(one, E.Num) and one.value == 1) or (
            isinstance(one, E.Call) and one.fn == "ones")
        if unit and isinstance(s, E.Call) and s.fn == "sigmoid":
            return s.args[0], True
    return None


def _log_sigmoid(ctx, node, d):
    u, complement = _log_sigmoid_arg(node)
    du = d(u)
    if du is None:
        return None
    s = E.Call("sigmoid", (u,))
    if ctx.scalar(u):
        slope = s if complement else E.Bin("-", num(1), s)
        out = mul(slope, du)
    else:
        slope = s if complement else E.Bin("-", _ones_like(ctx, u), s)
        out = E.Call("hadamard", (slope, du))
    return neg(out) if complement else out


def _trace_kron(ctx, node, d):
    a, b = node.args[0].args
    return d(mul(E.Call("tr", (a,)), E.Call("tr", (b,))))


def _ones_like(ctx, u):
    r, c = ctx.shape(u)
    return ones(ctx, r, c)


def _elementwise(ctx, node, d):
    """f(U) for an elementwise function: f'(u)*du on a scalar, f'(U) o dU on an array."""
    fn = node.fn if isinstance(node, E.Call) else None
    u = node.args[0] if isinstance(node, E.Call) else node.arg
    du = d(u)
    if du is None:
        return None
    shape = ctx.shape(u)
    scalar = S.is_scalar(shape)
    vector = shape[1] == S.ONE and not scalar
    if isinstance(node, E.Apply):
        g = E.Apply(node.fn, u, node.order + 1)
        return mul(g, du) if scalar else E.Call("hadamard", (g, du))
    if fn == "exp":
        return mul(node, du) if scalar else E.Call("hadamard", (node, du))
    if fn == "log":
        if scalar:
            return div(du, u)
        if vector:
            return mul(E.Call("inv", (E.Call("diag", (u,)),)), du)
        return E.Call("hadamard", (E.Call("exp", (E.Neg(node),)), du))
    if fn == "sqrt":
        if scalar:
            return div(du, mul(num(2), node))
        if vector:
            return div(mul(E.Call("inv", (E.Call("diag", (node,)),)), du), num(2))
        return div(E.Call("hadamard", (E.Call("exp", (E.Neg(E.Call("log", (node,))),)), du)),
                   num(2))
    if fn == "abs":
        if scalar:
            return div(mul(node, du), u)
        if vector:
            return E.Call("hadamard", (node, mul(E.Call("inv", (E.Call("diag", (u,)),)), du)))
        sign = E.Call("hadamard", (u, E.Call("exp", (E.Neg(E.Call("log", (node,))),))))
        return E.Call("hadamard", (sign, du))
    if fn == "relu":
        h = E.Call("step", (u,))
        return mul(h, du) if scalar else E.Call("hadamard", (h, du))
    if fn in ("sign", "step"):
        return None  # 0 away from the kink, where every point is checked
    if fn == "erf":
        lead = E.Bin("/", num(2), E.Call("sqrt", (E.Const("pi"),)))
        if scalar:
            return mul(lead, E.Call("exp", (E.Neg(power(u, 2)),)), du)
        bell = E.Call("exp", (E.Neg(E.Call("hadamard", (u, u))),))
        return mul(lead, E.Call("hadamard", (bell, du)))
    if fn == "sin":
        c = E.Call("cos", (u,))
        return mul(c, du) if scalar else E.Call("hadamard", (c, du))
    if fn == "cos":
        s = E.Call("sin", (u,))
        return neg(mul(s, du)) if scalar else neg(E.Call("hadamard", (s, du)))
    if fn == "tanh":
        if scalar:
            return mul(E.Bin("-", num(1), power(node, 2)), du)
        slope = E.Bin("-", _ones_like(ctx, u), E.Call("hadamard", (node, node)))
        return E.Call("hadamard", (slope, du))
    if fn == "sigmoid":
        if scalar:
            return mul(node, E.Bin("-", num(1), node), du)
        slope = E.Call("hadamard", (node, E.Bin("-", _ones_like(ctx, u), node)))
        return E.Call("hadamard", (slope, du))
    raise Refused(E.to_text(node), f"no rule for the elementwise function {fn}")


# ---------------------------------------------------------------- format 1.2


def _tan(ctx, node, d):
    u = node.args[0]
    du = d(u)
    if du is None:
        return None
    if ctx.scalar(u):
        return mul(E.Bin("+", num(1), power(node, 2)), du)
    slope = E.Bin("+", _ones_like(ctx, u), E.Call("hadamard", (node, node)))
    return E.Call("hadamard", (slope, du))


def _entry_power(ctx, node, base, exponent, d):
    """U∘p (hadamard_pow(U, p), or v**p for a vector): p U∘(p−1) ∘ dU, plus
    U∘p ∘ log(U) dp where the exponent moves."""
    du, dp = d(base), d(exponent)
    out = None
    if du is not None:
        k = E.literal_value(exponent)
        lower = E.Bin("-", exponent, num(1)) if k is None else num(k - 1)
        rest = (_ones_like(ctx, base) if k == 1 else base if k == 2
                else E.Call("hadamard_pow", (base, lower)))
        out = E.Call("hadamard", (mul(exponent, rest) if k != 1 else rest, du))
    if dp is not None:
        out = add(out, mul(E.Call("hadamard", (node, E.Call("log", (base,)))), dp))
    return out


def _hadamard_pow(ctx, node, d):
    return _entry_power(ctx, node, node.args[0], node.args[1], d)


def _vector_power(ctx, node, d):
    return _entry_power(ctx, node, node.left, node.right, d)


def _entry_quotient(ctx, node, d):
    """U ⊘ V (hadamard_div(U, V), or U / V for arrays of one shape):
    dU ⊘ V − U ⊘ (V∘V) ∘ dV, written with hadamard and a fixed array."""
    u, v = (node.args if isinstance(node, E.Call) else (node.left, node.right))
    du, dv = d(u), d(v)
    first = E.Call("hadamard", (E.Call("hadamard_pow", (v, E.Neg(num(1)))), du)) \
        if du is not None else None
    if dv is None:
        return first
    slope = E.Call("hadamard_div", (u, E.Call("hadamard", (v, v))))
    return sub(first, E.Call("hadamard", (slope, dv)))


def _scaled_constant(ctx, u):
    """(s, A) for u = s*A or A*s with s a scalar and A a constant array, else None."""
    if not (isinstance(u, E.Bin) and u.op == "*"):
        return None
    for s, a in ((u.left, u.right), (u.right, u.left)):
        if ctx.scalar(s) and not ctx.scalar(a) and not _depends(ctx, a):
            return s, a
    return None


def _expm(ctx, node, d):
    """e^(sA) with A constant: A e^(sA) ds (sA commutes with its derivative); no other
    argument has a closed form in the format (the Fréchet derivative is an integral)."""
    u = node.args[0]
    scaled = _scaled_constant(ctx, u)
    if scaled is None:
        if d(u) is None:
            return None
        raise Refused(E.to_text(node)[:60], "the derivative of expm(U) is an integral "
                      "(∫ e^(aU) dU e^((1-a)U) da); it has a closed form under tr(...) or for "
                      "U = s*A with A constant")
    s, a = scaled
    ds = d(s)
    return mul(a, node, ds) if ds is not None else None


def _trace_expm(ctx, node, d):
    u = node.args[0].args[0]
    du = d(u)
    if du is None:
        return None
    return E.Call("tr", (mul(node.args[0], du),))


def _logm(ctx, node, d):
    """log(sA) with A constant: I ds/s; no other argument has a closed form."""
    u = node.args[0]
    scaled = _scaled_constant(ctx, u)
    if scaled is None:
        if d(u) is None:
            return None
        raise Refused(E.to_text(node)[:60], "the derivative of logm(U) is an integral; it "
                      "has a closed form under tr(...) or for U = s*A with A constant")
    s, a = scaled
    ds = d(s)
    if ds is None:
        return None
    return div(mul(_eye_like(ctx, a), ds), s)


def _trace_logm(ctx, node, d):
    u = node.args[0].args[0]
    du = d(u)
    if du is None:
        return None
    return E.Call("tr", (mul(E.Call("inv", (u,)), du),))


def _pinv(ctx, node, d):
    """Golub-Pereyra, where the rank is constant (the format's full-rank points):
    dX⁺ = −X⁺ dX X⁺ + X⁺X⁺ᵀ dXᵀ (I − XX⁺) + (I − X⁺X) dXᵀ X⁺ᵀX⁺."""
    u = node.args[0]
    du = d(u)
    if du is None:
        return None
    rows, cols = ctx.shape(u)
    p, pt, dut = node, E.Transpose(node), E.Transpose(du)
    left = E.Bin("-", eye(ctx, rows), mul(u, p))
    right = E.Bin("-", eye(ctx, cols), mul(p, u))
    return add(add(neg(mul(p, du, p)), mul(p, pt, dut, left)), mul(right, dut, pt, p))


def _eye_like(ctx, node):
    return eye(ctx, ctx.shape(node)[0])


RULES: dict[str, Rule] = {
    "constant": Rule("constant", "dt-constant-matrix", "d(A) = 0", _zero),
    "symbol": Rule("variable", "mm-identity", "d(X) = dX", _symbol),
    "negation": Rule("negation", "dt-scalar-multiple", "d(-U) = -dU", _neg),
    "sum": Rule("sum rule", "dt-sum", "d(U + V) = dU + dV", _sum),
    "product": Rule("product rule", "dt-product-uv", "d(U*V) = dU*V + U*dV", _product),
    "quotient": Rule("quotient rule", "dd-quotient-rule-scalar",
                     "d(U/v) = dU/v - U*dv/v**2", _quotient),
    "scalar-power": Rule("power rule", "dd-power-scalar", "d(u**a) = a*u**(a - 1)*du",
                         _scalar_power),
    "norm-power": Rule("power of a norm", "dd-norm-squared-rule",
                       "d(norm(U)**k) = k*norm(U)**(k - 2)*<U, dU>", _scalar_power),
    "matrix-power": Rule("matrix power", "dt-cube",
                         "d(U**k) = sum of U**i*dU*U**(k-1-i)", _matrix_power),
    "inverse-power": Rule("negative matrix power", "mm-inverse-square",
                          "d(U**-k) = -sum of U**-(i+1)*dU*U**-(k-i)", _matrix_power),
    "transpose": Rule("transpose", "dt-transpose", "d(U.T) = dU.T", _transpose),
    "tr": Rule("trace", "dd-trace-u", "d tr(U) = tr(dU)", _trace),
    "det": Rule("determinant", "dd-det-u", "d det(U) = det(U)*tr(inv(U)*dU)", _det),
    "log-det": Rule("log determinant", "dd-log-det-u", "d log det(U) = tr(inv(U)*dU)",
                    _log_det),
    "log-abs-det": Rule("log absolute determinant", "log-abs-det",
                        "d log|det(U)| = tr(inv(U)*dU)", _log_det),
    "inv": Rule("inverse", "dt-inverse", "d inv(U) = -inv(U)*dU*inv(U)", _inverse),
    "kron": Rule("Kronecker product rule", "dt-kronecker",
                 "d kron(U, V) = kron(dU, V) + kron(U, dV)", _kron),
    "hadamard": Rule("Hadamard product rule", "dt-hadamard",
                     "d(U o V) = dU o V + U o dV", _hadamard),
    "diag": Rule("diag (linear)", "mv-diag", "d diag(U) = diag(dU)", _linear_call),
    "vec": Rule("vec (linear)", None, "d vec(U) = vec(dU)", _linear_call),
    "norm": Rule("norm", "dd-norm-rule", "d norm(U) = <U, dU>/norm(U)", _norm),
    "softmax": Rule("softmax", "jacobian-softmax",
                    "d softmax(u) = (diag(s) - s*s.T)*du", _softmax),
    "log-softmax": Rule("log softmax", "jacobian-log-softmax",
                        "d log(softmax(u)) = du - ones*(softmax(u).T*du)", _log_softmax),
    "log-sum-exp": Rule("log-sum-exp", "grad-log-sum-exp",
                        "d log(ones.T*exp(u)) = softmax(u).T*du", _log_sum_exp),
    "softplus": Rule("softplus", "grad-softplus-sum",
                     "d log(1 + exp(u)) = sigmoid(u) o du", _softplus),
    "log-sigmoid": Rule("log sigmoid", "grad-logistic-loss",
                        "d log(sigmoid(u)) = (1 - sigmoid(u)) o du, "
                        "d log(1 - sigmoid(u)) = -sigmoid(u) o du", _log_sigmoid),
    "trace-kron": Rule("trace of a Kronecker product", "trace-kron-ax",
                       "tr(kron(A, B)) = tr(A)*tr(B)", _trace_kron),
    "exp": Rule("exp (elementwise)", "mm-exp-elementwise", "d exp(U) = exp(U) o dU",
                _elementwise),
    "log": Rule("log (elementwise)", "mm-log-elementwise", "d log(U) = dU / U", _elementwise),
    "sqrt": Rule("sqrt (elementwise)", "mm-sqrt-elementwise",
                 "d sqrt(U) = dU / (2 sqrt(U))", _elementwise),
    "abs": Rule("abs (elementwise)", None, "d abs(U) = sign(U) o dU", _elementwise),
    "sin": Rule("sin (elementwise)", "mm-sin-elementwise", "d sin(U) = cos(U) o dU",
                _elementwise),
    "cos": Rule("cos (elementwise)", None, "d cos(U) = -sin(U) o dU", _elementwise),
    "tanh": Rule("tanh (elementwise)", "jacobian-tanh", "d tanh(U) = (1 - tanh(U)^2) o dU",
                 _elementwise),
    "sigmoid": Rule("sigmoid (elementwise)", "jacobian-sigmoid",
                    "d sigmoid(U) = sigmoid(U) o (1 - sigmoid(U)) o dU", _elementwise),
    # format 1.1
    "relu": Rule("ReLU (elementwise)", None, "d relu(U) = step(U) o dU", _elementwise),
    "sign": Rule("sign (elementwise)", None, "d sign(U) = 0 away from 0", _elementwise),
    "step": Rule("step (elementwise)", None, "d step(U) = 0 away from 0", _elementwise),
    "erf": Rule("erf (elementwise)", None, "d erf(U) = 2/sqrt(pi)*exp(-U o U) o dU",
                _elementwise),
    "sum-all": Rule("sum of entries (linear)", None, "d sum(U) = ones.T*dU*ones", _sum_call),
    "mean": Rule("mean of entries (linear)", None, "d mean(U) = ones.T*dU*ones/(m*n)",
                 _sum_call),
    "logsumexp": Rule("logsumexp", None, "d logsumexp(U) = <exp(U)/sum(exp(U)), dU>",
                      _logsumexp),
    "softmax-any": Rule("softmax of a row vector", None,
                        "d softmax(r) = dr*(diag(s.T) - s.T*s)", _softmax_any),
    "broadcast": Rule("broadcast sum", None,
                      "d(U + b.T) = dU + ones*db.T (a broadcast operand spread with ones)",
                      _sum),
    "log_softmax": Rule("log_softmax", "jacobian-log-softmax",
                        "d log_softmax(u) = du - ones*(softmax(u).T*du)", _log_softmax_call),
    "softmax_rows": Rule("row-wise softmax", None,
                         "d softmax_rows(Z) = S o dZ - S o ((S o dZ)*ones*ones.T)",
                         _softmax_rows),
    "generic": Rule("chain rule (generic function)", "dt-elementwise-chain-rule",
                    "d g(U) = diff(g)(U) o dU", _elementwise),
    # format 1.2
    "tan": Rule("tan (elementwise)", "jacobian-tan", "d tan(U) = (1 + tan(U)^2) o dU", _tan),
    "hadamard_pow": Rule("elementwise power", "grad-hadamard-power-sum",
                         "d hadamard_pow(U, p) = p*hadamard_pow(U, p - 1) o dU "
                         "(+ U^p o log(U) dp)", _hadamard_pow),
    "vector-power": Rule("elementwise power of a vector", "jacobian-vector-power",
                         "d(v**p) = p*v**(p - 1) o dv (+ v**p o log(v) dp)", _vector_power),
    "hadamard_div": Rule("elementwise quotient", "grad-hadamard-div-sum",
                         "d(U / V) = dU / V - U / (V o V) o dV", _entry_quotient),
    "elementwise-quotient": Rule("elementwise quotient", "jacobian-elementwise-division-"
                                 "denominator", "d(U / V) = dU / V - U / (V o V) o dV",
                                 _entry_quotient),
    "expm": Rule("matrix exponential of s*A", "dt-expm-scaled",
                 "d expm(s*A) = A*expm(s*A)*ds", _expm),
    "trace-expm": Rule("trace of the matrix exponential", "trace-expm",
                       "d tr(expm(U)) = tr(expm(U)*dU)", _trace_expm),
    "logm": Rule("matrix logarithm of s*A", "dt-logm-scaled",
                 "d logm(s*A) = eye*ds/s", _logm),
    "trace-logm": Rule("trace of the matrix logarithm", "trace-logm",
                       "d tr(logm(U)) = tr(inv(U)*dU)", _trace_logm),
    "pinv": Rule("pseudo-inverse (Golub-Pereyra)", "mm-pinv",
                 "d pinv(U) = -U+ dU U+ + U+ U+.T dU.T (I - U U+) + (I - U+ U) dU.T U+.T U+",
                 _pinv),
}


def kind_of(ctx: Ctx, node) -> str:
    """The key of `node` in RULES."""
    kind = _KIND.visit(node, ctx)
    if kind is None:
        raise Refused(E.to_text(node)[:60], f"no differential rule for {type(node).__name__}")
    return kind


class _Kind(E.Visitor):
    """Which rule differentiates a node: by its kind, and for operators and functions by
    the pattern it matches (log det X, tr(expm(X)), ...); None where no rule applies."""

    def _Num(self, node, ctx):
        return "constant"

    _Size = _Const = _Num

    def _Sym(self, node, ctx):
        return "symbol"

    def _Neg(self, node, ctx):
        return "negation"

    def _Transpose(self, node, ctx):
        return "transpose"

    def _Apply(self, node, ctx):
        if node.order:
            raise Refused(E.to_text(node), "a derivative of a generic function in `of`")
        return "generic"

    def _Differential(self, node, ctx):
        return None

    _DiffOf = _Differential

    def _Bin(self, node, ctx):
        if node.op in "+-":
            same = ctx.shape(node.left) == ctx.shape(node.right)
            return "sum" if same else "broadcast"
        if node.op == "*":
            return "product"
        if node.op == "/":
            return "quotient" if ctx.scalar(node.right) else "elementwise-quotient"
        if ctx.scalar(node.left):
            return "norm-power" if _norm_power_rule(ctx, node) else "scalar-power"
        if S.is_vector(ctx.shape(node.left)):
            return "vector-power"
        k = S.integer_exponent(node.right)
        return "inverse-power" if k is not None and k < 0 else "matrix-power"

    def _Call(self, node, ctx):
        fn, first = node.fn, node.args[0]
        inner = first.fn if isinstance(first, E.Call) else None
        if fn in ("eye", "ones", "zeros", "commutation"):
            return "constant"
        if fn == "tr" and inner in ("expm", "logm", "kron"):
            return "trace-" + inner
        if fn == "log" and inner == "det":
            return "log-det"
        if fn == "log" and inner == "abs" and isinstance(first.args[0], E.Call) \
                and first.args[0].fn == "det":
            return "log-abs-det"
        if fn == "log" and inner == "softmax":
            return "log-softmax"
        if fn == "log" and _log_sigmoid_arg(node) is not None:
            return "log-sigmoid"
        if fn == "log" and _softplus_arg(node) is not None:
            return "softplus"
        if fn == "log" and _log_sum_exp_arg(node) is not None and ctx.shape(
                _log_sum_exp_arg(node))[1] == S.ONE:
            return "log-sum-exp"
        if fn in ("sum", "mean"):
            return "sum-all" if fn == "sum" else "mean"
        if fn == "softmax" and ctx.shape(first)[1] != S.ONE:
            return "softmax-any"
        if fn in RULES or fn in ELEMENTWISE:
            return fn
        return None


_KIND = _Kind()


def differentiate(ctx: Ctx, tree, log: StepLog | None = None):
    """d(tree), or None for zero. Each rule used is logged once per node."""

    def d(node):
        if not _depends(ctx, node):
            return None
        kind = kind_of(ctx, node)
        rule = RULES[kind]
        result = rule.fn(ctx, node, d)
        if log is not None and kind not in ("symbol", "constant"):
            log.rule(rule, node, result)
        return result

    return d(tree)


def _depends(ctx: Ctx, node) -> bool:
    for n in E.walk(node):
        if isinstance(n, E.Sym):
            decl = ctx.decl(n.name)
            if n.name == ctx.wrt or decl.depends_on:
                return True
    return False
