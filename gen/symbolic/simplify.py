"""Readable results: products with scalars in front, like terms collected, common factors
pulled out, transposes pushed by one convention.

Conventions (stated once, used everywhere):

- the transpose of a product is pushed through it, (A*B).T -> B.T*A.T;
- the transpose of an inverse or of a matrix power stays outside: inv(X).T, never
  inv(X.T); (X**2).T, never X.T**2;
- symmetric things lose their transposes: symbols declared symmetric, positive-definite
  or diagonal, and any product, sum, inverse or power equal to its own transpose
  (X.T*X, A + A.T, inv(X.T*A*X) for symmetric A);
- the transpose of a sum is written whichever way has fewer nodes ((X*W - Y).T);
- scalar factors go in front, divisors last (2*X.T*(X*W - Y)/N);
- tr of a 1 x 1 is dropped; products of powers of one base merge (X**-3 * X**2 = inv(X)),
  the inverse of a product of square factors is split where that cancels something.
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd

from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.symbolic.core import (
    ONE,
    UNIT,
    Ctx,
    Prod,
    Refused,
    _canon,
    count,
    eye,
    mono_mul,
    num,
    prod_mul,
    size_node,
)

# ---------------------------------------------------------------- transposes


def flip(ctx: Ctx, node, target: str):
    """A form written for the other layout (`target`): its transpose, where diff(U, x)
    now stands for the target layout's array, the transpose of the source's."""
    ctx.layout = target
    return T(ctx, _mark(ctx, node))


def flip_prod(ctx: Ctx, p: Prod, target: str) -> Prod:
    ctx.layout = target
    mono = tuple((_mark(ctx, a), e) for a, e in p.mono)
    return t_prod(ctx, Prod(p.coef, _canon(dict(mono)), tuple(_mark(ctx, f) for f in p.chain)))


def _mark(ctx: Ctx, node):
    """diff(U, x) of the source layout -> diff(U, x).T of the target layout."""
    return _MARK.visit(node, ctx)


class _Mark(E.Transformer):
    def _DiffOf(self, node, ctx):
        return node if ctx.scalar(node) else E.Transpose(node)

    def _Transpose(self, node, ctx):
        if isinstance(node.arg, E.DiffOf):
            return node.arg
        return E.Transpose(self.visit(node.arg, ctx))


_MARK = _Mark()


def T(ctx: Ctx, node):
    """The transpose of `node`, canonical (see the conventions above)."""
    if not isinstance(node, E.Num | E.DiffOf) and ctx.scalar(node):
        return node
    return _TRANSPOSE.visit(node, ctx)


class _Transposer(E.Visitor):
    """The transpose of a node, by kind (T returns other scalars as they are)."""

    def _Num(self, node, ctx):
        return node

    def _DiffOf(self, node, ctx):
        return node if ctx.scalar(node) else E.Transpose(node)

    def _Sym(self, node, ctx):
        return node if ctx.symmetric_symbol(node.name) else E.Transpose(node)

    def _Differential(self, node, ctx):
        decl = ctx.decl(node.name)
        same = node.name != ctx.wrt and ctx.symmetric_symbol(node.name)
        return node if same or decl.kind == "scalar" else E.Transpose(node)

    def _Transpose(self, node, ctx):
        return node.arg

    def _Neg(self, node, ctx):
        return E.Neg(T(ctx, node.arg))

    def _Bin(self, node, ctx):
        return _t_bin(ctx, node)

    def _Call(self, node, ctx):
        return _t_call(ctx, node)

    def _Apply(self, node, ctx):
        return node if T(ctx, node.arg) == node.arg else E.Transpose(node)

    def _Size(self, node, ctx):  # sizes and constants are scalars: not reached
        return E.Transpose(node)

    _Const = _Size


_TRANSPOSE = _Transposer()


def _t_bin(ctx, node):
    op, left = node.op, node.left
    if op in "+-":
        terms = sum_terms(node)
        flipped = [(sign, T(ctx, t)) for sign, t in terms]
        if sorted(map(repr, flipped)) == sorted(map(repr, terms)):
            return node
        pushed = build_sum(flipped)
        wrapped = E.Transpose(node)
        return pushed if count(pushed) <= count(wrapped) else wrapped
    if op in "*/":
        return prod_tree(t_prod(ctx, factor(ctx, node)))
    # a matrix power
    return node if T(ctx, left) == left else E.Transpose(node)


def _t_call(ctx, node):
    fn, args = node.fn, node.args
    if fn == "eye":
        return node
    if fn in ("ones", "zeros"):
        return E.Call(fn, args[::-1]) if len(args) == 2 else E.Transpose(node)
    if fn == "inv":
        return node if T(ctx, args[0]) == args[0] else E.Transpose(node)
    if fn == "diag":
        return node if ctx.shape(node)[1] != S.ONE else E.Transpose(node)
    if fn == "kron":
        return E.Call("kron", tuple(T(ctx, a) for a in args))
    if fn == "hadamard":
        flipped = tuple(T(ctx, a) for a in args)
        if flipped == args:
            return node
        pushed = E.Call("hadamard", flipped)
        wrapped = E.Transpose(node)
        return pushed if count(pushed) < count(wrapped) else wrapped
    if len(args) == 1 and T(ctx, args[0]) == args[0]:
        return node
    return E.Transpose(node)


def _has_diff(node) -> bool:
    return any(isinstance(n, E.DiffOf) for n in E.walk(node))


def sum_terms(node, sign: int = 1) -> list:
    """A + B - C -> [(1, A), (1, B), (-1, C)]."""
    if isinstance(node, E.Bin) and node.op in "+-":
        right_sign = sign if node.op == "+" else -sign
        return sum_terms(node.left, sign) + sum_terms(node.right, right_sign)
    if isinstance(node, E.Neg):
        return sum_terms(node.arg, -sign)
    return [(sign, node)]


def build_sum(terms: list):
    """[(sign, tree)] -> a tree, subtractions written as such, a positive term first."""
    terms = [(-sign, t.arg) if isinstance(t, E.Neg) else (sign, t) for sign, t in terms]
    if terms and terms[0][0] < 0:
        first = next((i for i, (sign, _) in enumerate(terms) if sign > 0), None)
        if first is not None:
            terms = [terms[first]] + terms[:first] + terms[first + 1:]
    out = None
    for sign, tree in terms:
        if isinstance(tree, E.Neg):
            sign, tree = -sign, tree.arg
        if out is None:
            out = tree if sign > 0 else E.Neg(tree)
        else:
            out = E.Bin("+" if sign > 0 else "-", out, tree)
    return out if out is not None else num(0)


def t_prod(ctx: Ctx, p: Prod) -> Prod:
    return Prod(p.coef, p.mono, tuple(T(ctx, f) for f in reversed(p.chain)))


# ---------------------------------------------------------------- products of a tree


def factor(ctx: Ctx, node) -> Prod:
    """A Differential-free tree as coef * atoms * chain."""
    if isinstance(node, E.Num):
        return Prod(node.value, (), ())
    if isinstance(node, E.Neg):
        p = factor(ctx, node.arg)
        return Prod(-p.coef, p.mono, p.chain)
    scalar = ctx.scalar(node)
    if isinstance(node, E.Bin):
        op = node.op
        if op == "*" and scalar and _sums_to_one(node):
            return Prod(ONE, (), ())
        if op == "*":
            ls, rs = ctx.scalar(node.left), ctx.scalar(node.right)
            if scalar and not (ls or rs):
                return Prod(ONE, ((node, ONE),), ())
            return prod_mul(factor(ctx, node.left), factor(ctx, node.right))
        if op == "/":
            p, q = factor(ctx, node.left), factor(ctx, node.right)
            if q.chain or q.coef == 0:
                return Prod(ONE, ((node, ONE),), ()) if scalar else Prod(ONE, (), (node,))
            return Prod(p.coef / q.coef, mono_mul(p.mono, q.mono, -ONE), p.chain)
        if op == "**" and not scalar:
            k = E.literal_value(node.right)
            p = factor(ctx, node.left)
            if k is not None and k.denominator == 1 and len(p.chain) == 1 and (
                    p.coef != 1 or p.mono):
                return Prod(p.coef ** int(k), mono_mul((), p.mono, k),
                            (E.Bin("**", p.chain[0], node.right),))
        if op == "**" and scalar:
            k = E.literal_value(node.right)
            if k is not None:
                p = factor(ctx, node.left)
                if not p.chain and (k.denominator == 1 or p.coef > 0):
                    coef = p.coef ** k
                    if coef.denominator == 1 or k.denominator == 1:
                        return Prod(Fraction(coef), mono_mul((), p.mono, k), ())
            return Prod(ONE, ((node, ONE),), ())
    if isinstance(node, E.Transpose):
        if scalar:
            return factor(ctx, node.arg)
        inner = node.arg
        if isinstance(inner, E.Neg) or isinstance(inner, E.Bin) and inner.op in "*/":
            return t_prod(ctx, factor(ctx, inner))
        return Prod(ONE, (), (node,))
    if isinstance(node, E.Call) and node.fn == "tr":
        if ctx.scalar(node.args[0]):
            return factor(ctx, node.args[0])
        return _trace(ctx, node)
    if isinstance(node, E.Call) and node.fn == "inv":
        p = factor(ctx, node.args[0])
        if len(p.chain) == 1 and (p.coef != 1 or p.mono):
            return Prod(1 / p.coef, mono_mul((), p.mono, -ONE), (E.Call("inv", p.chain),))
    if scalar:
        return Prod(ONE, ((node, ONE),), ())
    return Prod(ONE, (), (node,))


def _trace(ctx: Ctx, node) -> Prod:
    """tr(c*M1*...*Mk): c out in front, the chain turned to its canonical rotation (the
    shortest after merging powers, then the first by text), so equal traces collect."""
    p = factor(ctx, node.args[0])
    chain = p.chain
    if len(chain) > 1:
        best = None
        for i in range(len(chain)):
            rotated = normalize(ctx, Prod(ONE, (), chain[i:] + chain[:i])).chain
            key = (len(rotated), E.to_text(_left(list(rotated))))
            if best is None or key < best[0]:
                best = (key, rotated)
        chain = best[1]
    inner = _left(list(chain)) if chain else None
    if inner is None or ctx.scalar(inner):
        return Prod(p.coef, p.mono, ()) if inner is None else prod_mul(
            Prod(p.coef, p.mono, ()), factor(ctx, inner))
    return Prod(p.coef, mono_mul(p.mono, ((E.Call("tr", (inner,)), ONE),)), ())


def _sums_to_one(node) -> bool:
    """ones(n).T*softmax(u) and softmax(u).T*ones(n): the entries of a softmax sum to 1."""
    a, b = node.left, node.right
    if isinstance(a, E.Transpose):
        a = a.arg
    else:
        return False
    pair = {getattr(a, "fn", None), getattr(b, "fn", None)}
    return pair == {"ones", "softmax"}


# ---------------------------------------------------------------- chains


def _power(ctx: Ctx, node):
    """(base, exponent, transposed) of a square factor: inv(B) -> (B, -1, False),
    B**k -> (B, k, False), inv(B).T -> (B, -1, True), B.T -> (B, 1, True)."""
    if isinstance(node, E.Transpose):
        base, k, t = _power(ctx, node.arg)
        return base, k, not t
    if isinstance(node, E.Call) and node.fn == "inv":
        base, k, t = _power(ctx, node.args[0])
        return base, -k, t
    if isinstance(node, E.Bin) and node.op == "**":
        k = E.literal_value(node.right)
        if k is not None and k.denominator == 1:
            base, j, t = _power(ctx, node.left)
            return base, j * int(k), t
    return node, 1, False


def _from_power(ctx: Ctx, base, k: int, transposed: bool):
    if k == 1:
        node = base
    elif k == -1:
        node = E.Call("inv", (base,))
    else:
        node = E.Bin("**", base, num(k) if k > 0 else E.Neg(num(-k)))
    if not transposed:
        return node
    if k == 1:
        return T(ctx, base)
    return E.Transpose(node) if T(ctx, base) != base else node


def _square(ctx: Ctx, node) -> bool:
    r, c = ctx.shape(node)
    return r == c


def is_identity(node) -> bool:
    if isinstance(node, E.Call) and node.fn == "eye":
        return True
    return isinstance(node, E.Call) and node.fn == "kron" and all(map(is_identity, node.args))


def normalize(ctx: Ctx, p: Prod) -> Prod:
    """Merge powers of one base, cancel inverses, drop identities, simple rewrites."""
    coef, mono, chain = p.coef, p.mono, list(p.chain)
    if not chain:
        return p
    first_shape = ctx.shape(chain[0])
    chain = _split_inverses(ctx, chain)
    out = _merge_powers(ctx, chain)
    factors = [f if k is None else _from_power(ctx, f, k, t) for f, k, t in out]
    factors, extra = _rewrite(ctx, factors)
    coef, mono = coef * extra.coef, mono_mul(mono, extra.mono)
    if not factors:
        identities = [f for f in chain if is_identity(f)]
        factors = identities[:1] or [eye(ctx, first_shape[0])]
    return Prod(coef, mono, tuple(factors))


def _split_inverses(ctx: Ctx, chain: list) -> list:
    """inv(A*X*B) of square factors -> inv(B)*inv(X)*inv(A), only where that cancels."""
    result = list(chain)
    for i, f in enumerate(chain):
        transposed = isinstance(f, E.Transpose)
        g = f.arg if transposed else f
        if not (isinstance(g, E.Call) and g.fn == "inv"):
            continue
        inner = factor(ctx, g.args[0])
        if inner.mono or inner.coef != 1 or len(inner.chain) < 2:
            continue
        if not all(_square(ctx, h) for h in inner.chain):
            continue
        if transposed:
            split = [E.Transpose(E.Call("inv", (h,))) for h in inner.chain]
        else:
            split = [E.Call("inv", (h,)) for h in reversed(inner.chain)]
        trial = result[:i] + split + result[i + 1:]
        if _merged_length(ctx, trial) < _merged_length(ctx, result):
            result = trial
    return result


def _merged_length(ctx, chain) -> int:
    return len(_merge_powers(ctx, chain))


def _merge_powers(ctx, chain) -> list:
    """(base, k, transposed) for runs of powers of one square base (k summed, dropped at
    0), (factor, None, None) for the rest; identities left out."""
    out: list = []
    for f in chain:
        if is_identity(f):
            continue
        if not _square(ctx, f):
            out.append((f, None, None))
            continue
        base, k, t = _power(ctx, f)
        if out and out[-1][1] is not None and out[-1][0] == base and out[-1][2] == t:
            k += out.pop()[1]
            if k == 0:
                continue
        out.append((base, k, t))
    return out


def _rewrite(ctx: Ctx, factors: list):
    """Pairwise rewrites: ones(m)*ones(n).T = ones(m, n), inv(diag(v))*v = ones(n),
    diag(v)*ones(n) = v, kron(A, B)*kron(C, D) = kron(A*C, B*D)."""
    extra = UNIT
    changed = True
    while changed and len(factors) > 1:
        changed = False
        for i in range(len(factors) - 1):
            a, b = factors[i], factors[i + 1]
            new = _pair(ctx, a, b)
            if new is not None:
                factors = factors[:i] + list(new) + factors[i + 2:]
                changed = True
                break
    return factors, extra


def _is_ones(node) -> bool:
    return isinstance(node, E.Call) and node.fn == "ones" and len(node.args) == 1


def _pair(ctx: Ctx, a, b):
    if _is_ones(a) and isinstance(b, E.Transpose) and _is_ones(b.arg):
        return (E.Call("ones", (a.args[0], b.arg.args[0])),)
    if (isinstance(a, E.Call) and a.fn == "inv" and isinstance(a.args[0], E.Call)
            and a.args[0].fn == "diag" and a.args[0].args[0] == b):
        return (E.Call("ones", (_size_of(ctx, b),)),)
    if isinstance(a, E.Call) and a.fn == "diag" and _is_ones(b) and ctx.shape(a)[1] != S.ONE:
        return (a.args[0],)
    if isinstance(a, E.Call) and a.fn == "kron" and isinstance(b, E.Call) and b.fn == "kron":
        (p, q), (r, s) = a.args, b.args
        if ctx.shape(p)[1] == ctx.shape(r)[0] and ctx.shape(q)[1] == ctx.shape(s)[0]:
            return (make_kron(ctx, product_tree(ctx, [p, r]), product_tree(ctx, [q, s])),)
    return None


def _size_of(ctx, vector):
    node = size_node(ctx.shape(vector)[0])
    if node is None:
        raise Refused("ones", f"a vector of ones of size {ctx.shape(vector)[0]}")
    return node


def product_tree(ctx: Ctx, factors: list):
    """The simplified product of Differential-free trees."""
    p = normalize(ctx, Prod(ONE, (), ()) if not factors else
                  _fold(ctx, factors))
    return prod_tree(p)


def _fold(ctx, factors):
    out = UNIT
    for f in factors:
        out = prod_mul(out, factor(ctx, f))
    return out


def make_kron(ctx: Ctx, a, b):
    """kron(a, b), written as a plain product where that is the same thing."""
    sa, sb = ctx.shape(a), ctx.shape(b)
    if S.is_scalar(sa) or S.is_scalar(sb):
        return prod_tree(normalize(ctx, prod_mul(factor(ctx, a), factor(ctx, b))))
    if sa[0] == S.ONE and sb[1] == S.ONE:  # row (x) column = column * row
        return product_tree(ctx, [b, a])
    if sa[1] == S.ONE and sb[0] == S.ONE:  # column (x) row = column * row
        return product_tree(ctx, [a, b])
    return E.Call("kron", (a, b))


# ---------------------------------------------------------------- trees of products


def tidy(node):
    """A minus sign moved onto the first factor of a product: -(A*B) -> -A*B (the same
    tree size, one pair of parentheses fewer)."""
    return _TIDY.visit(node)


class _Tidy(E.Transformer):
    def _Neg(self, node):
        inner = node.arg
        if isinstance(inner, E.Neg):
            return self.visit(inner.arg)
        if isinstance(inner, E.Bin) and inner.op in "*/":
            return self.visit(E.Bin(inner.op, E.Neg(inner.left), inner.right))
        return E.Neg(self.visit(inner))


_TIDY = _Tidy()


def _atom_power(atom, e: Fraction):
    if e == 1:
        return atom
    return E.Bin("**", atom, num(e) if e > 0 else E.Neg(num(-e)))


def prod_tree(p: Prod, sign_out: bool = True):
    """coef * atoms * chain / divisors, a minus sign in front."""
    coef = p.coef
    top, bottom = [], []
    if abs(coef.numerator) != 1:
        top.append(num(abs(coef.numerator)))
    if coef.denominator != 1:
        bottom.append(num(coef.denominator))
    for atom, e in p.mono:
        (top if e > 0 else bottom).append(_atom_power(atom, abs(e)))
    top += list(p.chain)
    body = _left(top) if top else num(1)
    if bottom:
        body = E.Bin("/", body, _left(bottom))
    if coef < 0:
        return E.Neg(body)
    return body


def _left(factors):
    out = factors[0]
    for f in factors[1:]:
        out = E.Bin("*", out, f)
    return out


# ---------------------------------------------------------------- sums of products


def collect(prods: list) -> list:
    """Like terms added up (same atoms, same chain); zeros dropped; order kept."""
    seen: dict = {}
    order = []
    for p in prods:
        key = (p.mono, p.chain)
        if key in seen:
            seen[key] = seen[key] + p.coef
        else:
            seen[key] = p.coef
            order.append(key)
    return [Prod(seen[k], k[0], k[1]) for k in order if seen[k] != 0]


def assemble(ctx: Ctx, prods: list, zero=None):
    """A sum of products -> one readable tree."""
    prods = collect([q for p in prods for q in _split_hadamard(ctx, normalize(ctx, p))])
    if not prods:
        return zero if zero is not None else num(0)
    return _build(ctx, prods)


def _split_hadamard(ctx: Ctx, p: Prod) -> list:
    """hadamard(ones - S, B) = B - hadamard(S, B) (ones o B = B), Hadamard arguments in
    text order, so that Hadamard terms collect (s o (1 - y) - (1 - s) o y = s - y)."""
    for i, f in enumerate(p.chain):
        if not (isinstance(f, E.Call) and f.fn == "hadamard"):
            continue
        for j in (0, 1):
            arg, other = f.args[j], f.args[1 - j]
            terms = sum_terms(arg)
            if len(terms) < 2 or not any(_all_ones(t) for _, t in terms):
                continue
            out = []
            for sign, t in terms:
                if _all_ones(t):
                    new = other
                else:
                    a, b = sorted((t, other), key=E.to_text)
                    new = E.Call("hadamard", (a, b))
                q = Prod(p.coef * sign, p.mono, p.chain[:i] + (new,) + p.chain[i + 1:])
                out += _split_hadamard(ctx, q)
            return out
        a, b = sorted(f.args, key=E.to_text)
        if (a, b) != f.args:
            p = Prod(p.coef, p.mono, p.chain[:i] + (E.Call("hadamard", (a, b)),)
                     + p.chain[i + 1:])
    return [p]


def _all_ones(node) -> bool:
    return isinstance(node, E.Call) and node.fn == "ones"


def _common_scalar(prods: list) -> Prod:
    nums = [abs(p.coef.numerator) for p in prods]
    dens = [p.coef.denominator for p in prods]
    g = 0
    for n in nums:
        g = gcd(g, n)
    lcm = 1
    for d in dens:
        lcm = lcm * d // gcd(lcm, d)
    coef = Fraction(g, lcm) if g else ONE
    if all(p.coef < 0 for p in prods) and coef != 1:
        coef = -coef
    if abs(coef) == 1 and coef != -1:
        coef = ONE
    if coef == -1:
        coef = ONE
    common: dict = {}
    first = dict(prods[0].mono)
    for atom, e in first.items():
        es = [dict(p.mono).get(atom) for p in prods]
        if all(x is not None and (x > 0) == (e > 0) for x in es):
            common[atom] = min(es, key=abs)
    return Prod(coef, _canon(common), ())


def _build(ctx: Ctx, prods: list):
    if len(prods) == 1:
        return prod_tree(prods[0])
    common = _common_scalar(prods)
    if common.coef != 1 or common.mono:
        inv = [(a, -e) for a, e in common.mono]
        rest = [Prod(p.coef / common.coef, mono_mul(p.mono, tuple(inv)), p.chain)
                for p in prods]
        inner = _build(ctx, rest)
        if ctx.scalar(inner):
            return prod_tree(Prod(common.coef, mono_mul(common.mono, ((inner, ONE),)), ()))
        return prod_tree(Prod(common.coef, common.mono, (inner,)))
    for side in (0, -1):
        heads = {p.chain[side] if p.chain else None for p in prods}
        if len(heads) == 1 and None not in heads and all(len(p.chain) > 1 for p in prods):
            head = heads.pop()
            rest = [Prod(p.coef, p.mono, p.chain[1:] if side == 0 else p.chain[:-1])
                    for p in prods]
            inner = _build(ctx, rest)
            chain = (head, inner) if side == 0 else (inner, head)
            return prod_tree(Prod(ONE, (), chain))
    group = _best_group(prods)
    if group:
        side, head = group
        inside = [p for p in prods if len(p.chain) > 1 and p.chain[side] == head]
        outside = [p for p in prods if p not in inside]
        first = _build(ctx, inside)
        second = _build(ctx, outside)
        return build_sum([(1, first), (1, second)])
    return build_sum([(1, prod_tree(p)) for p in prods])


def _best_group(prods: list):
    best, size = None, 1
    for side in (0, -1):
        tally: dict = {}
        for p in prods:
            if len(p.chain) > 1:
                tally[p.chain[side]] = tally.get(p.chain[side], 0) + 1
        for head, n in tally.items():
            if n > size and n < len(prods):
                best, size = (side, head), n
    return best


def simplify_tree(ctx: Ctx, node):
    """A Differential-free tree re-written: sums of products collected and factored."""
    terms = sum_terms(node)
    prods = []
    for sign, t in terms:
        p = factor(ctx, t)
        prods.append(Prod(p.coef * sign, p.mono, p.chain))
    return assemble(ctx, prods)
