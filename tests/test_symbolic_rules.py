"""Per rule of the symbolic engine: a derivation that uses it is right (verified), and a
deliberately wrong variant of that rule is rejected by the verification step."""

from __future__ import annotations

import pytest
from matderiv.lang import expr as E
from matderiv.symbolic import Refused, derive
from matderiv.symbolic import rules as R
from matderiv.symbolic.core import num

# rule key -> (of, wrt, symbols): an expression whose derivation uses that rule
CASES = {
    "symbol": ("x", "x", "x: vector n"),
    "negation": ("-(A*x)", "x", "A: matrix m n; x: vector n"),
    "sum": ("A*x + B*x", "x", "A: matrix m n; B: matrix m n; x: vector n"),
    "product": ("x.T*A*x", "x", "x: vector n; A: matrix n n"),
    "quotient": ("x.T*x/(a.T*x)", "x", "x: vector n; a: vector n"),
    "scalar-power": ("(a.T*x)**3", "x", "x: vector n; a: vector n"),
    "norm-power": ("norm(X)**2", "X", "X: matrix m n"),
    "matrix-power": ("tr(X**3)", "X", "X: matrix n n"),
    "inverse-power": ("X**-2", "X", "X: matrix n n invertible"),
    "transpose": ("tr(A*X.T)", "X", "A: matrix m n; X: matrix m n"),
    "tr": ("tr(A*X)", "X", "A: matrix n m; X: matrix m n"),
    "det": ("det(X)", "X", "X: matrix n n invertible"),
    "log-det": ("log(det(X))", "X", "X: matrix n n invertible"),
    "log-abs-det": ("log(abs(det(X)))", "X", "X: matrix n n invertible"),
    "inv": ("a.T*inv(X)*b", "X", "a: vector n; X: matrix n n invertible; b: vector n"),
    "kron": ("kron(A, X)", "X", "A: matrix p q; X: matrix m n"),
    "hadamard": ("hadamard(x, x)", "x", "x: vector n"),
    "diag": ("diag(x)", "x", "x: vector n"),
    "vec": ("vec(A*X)", "X", "A: matrix p m; X: matrix m n"),
    "norm": ("norm(x)", "x", "x: vector n"),
    "softmax": ("softmax(z)", "z", "z: vector n"),
    "log-softmax": ("log(softmax(z))", "z", "z: vector n"),
    "log-sum-exp": ("log(ones(n).T*exp(x))", "x", "x: vector n"),
    "softplus": ("ones(n).T*log(ones(n) + exp(x))", "x", "x: vector n"),
    "log-sigmoid": ("-y.T*log(sigmoid(X*w)) - (ones(m) - y).T*log(ones(m) - sigmoid(X*w))",
                    "w", "X: matrix m n; w: vector n; y: vector m"),
    "trace-kron": ("tr(kron(A, X))", "X", "A: matrix p p; X: matrix n n"),
    "exp": ("a.T*exp(x)", "x", "a: vector n; x: vector n"),
    "log": ("ones(n).T*log(x)", "x", "x: vector n positive"),
    "sqrt": ("sqrt(x.T*x)", "x", "x: vector n"),
    "abs": ("abs(a.T*x)", "x", "a: vector n; x: vector n"),
    "sin": ("sin(x)", "x", "x: vector n"),
    "cos": ("cos(a.T*x)", "x", "a: vector n; x: vector n"),
    "tanh": ("tanh(W*x)", "x", "W: matrix m n; x: vector n"),
    "sigmoid": ("sigmoid(W*x)", "x", "W: matrix m n; x: vector n"),
    "generic": ("g(x.T*A*x)", "x", "g: function; A: matrix n n; x: vector n"),
    # format 1.1
    "relu": ("a.T*relu(W*x)", "W", "W: matrix k n; x: vector n; a: vector k"),
    "sign": ("a.T*sign(x) + x.T*x", "x", "a: vector n; x: vector n"),
    "step": ("a.T*step(x) + x.T*x", "x", "a: vector n; x: vector n"),
    "erf": ("sum(erf(X))", "X", "X: matrix m n"),
    "sum-all": ("sum(X*W - Y)", "W", "X: matrix m n; W: matrix n k; Y: matrix m k"),
    "mean": ("mean(hadamard(X*w - y, X*w - y))", "w", "X: matrix m n; w: vector n; "
             "y: vector m"),
    "logsumexp": ("logsumexp(X*W)", "W", "X: matrix m n; W: matrix n k"),
    "softmax-any": ("softmax(x.T*W)*a", "x", "x: vector n; W: matrix n k; a: vector k"),
    "log_softmax": ("-y.T*log_softmax(W*x)", "x", "W: matrix k n; x: vector n; y: vector k"),
    "softmax_rows": ("tr(G.T*softmax_rows(Q*K.T/sqrt(d))*V)", "Q",
                     "Q: matrix m d; K: matrix p d; V: matrix p q; G: matrix m q"),
    "broadcast": ("tr(G.T*(X*W + b.T))", "b", "X: matrix m n; W: matrix n k; b: vector k; "
                  "G: matrix m k"),
    # format 1.2
    "tan": ("sum(tan(X))", "X", "X: matrix m n"),
    "hadamard_pow": ("sum(hadamard_pow(X, p))", "p", "X: matrix m n positive; p: scalar"),
    "vector-power": ("sum((X*w - y)**2)", "w", "X: matrix m n; w: vector n; y: vector m"),
    "hadamard_div": ("sum(hadamard_div(A, X))", "X", "A: matrix m n; X: matrix m n nonzero"),
    "elementwise-quotient": ("x / y", "y", "x: vector n; y: vector n nonzero"),
    "expm": ("expm(t*A)", "t", "t: scalar; A: matrix n n"),
    "trace-expm": ("tr(expm(X))", "X", "X: matrix n n"),
    "logm": ("logm(t*A)", "t", "t: scalar positive; A: matrix n n positive-definite"),
    "trace-logm": ("tr(logm(X))", "X", "X: matrix n n positive-definite"),
    "pinv": ("tr(A*pinv(X))", "X", "A: matrix m n; X: matrix m n"),
}


def test_every_rule_has_a_case():
    assert set(RULES_TESTED) | {"constant"} == set(R.RULES)


RULES_TESTED = sorted(CASES)


def _uses(kind, of, wrt, symbols) -> bool:
    result = derive(of, wrt, symbols, check=False)
    return any(step.rule == R.RULES[kind].name for step in result.steps.steps) or \
        kind == "symbol"


@pytest.mark.parametrize("kind", RULES_TESTED)
def test_rule_derives_a_verified_result(kind):
    of, wrt, symbols = CASES[kind]
    assert _uses(kind, of, wrt, symbols)
    result = derive(of, wrt, symbols)
    assert result.verified
    assert result.guarantee in ("proved", "checked")


def _wrong(rule: R.Rule) -> R.Rule:
    """The same rule, off by a factor of 2 (the symbol rule: forgets dX)."""
    if rule.fn is R._symbol:
        return R.Rule(rule.name, rule.catalog_id, rule.formula, lambda ctx, node, d: None)

    def fn(ctx, node, d):
        out = rule.fn(ctx, node, d)
        if out is None and isinstance(node, E.Call) and node.fn in ("sign", "step"):
            return d(node.args[0])  # a zero rule's wrong variant: not zero
        return None if out is None else R.mul(num(2), out)

    return R.Rule(rule.name, rule.catalog_id, rule.formula, fn)


@pytest.mark.parametrize("kind", RULES_TESTED)
def test_wrong_variant_of_rule_is_refused(kind, monkeypatch):
    of, wrt, symbols = CASES[kind]
    monkeypatch.setitem(R.RULES, kind, _wrong(R.RULES[kind]))
    with pytest.raises(Refused) as info:
        derive(of, wrt, symbols)
    assert "verification" in info.value.reason or "0" in info.value.reason


def test_constant_is_zero_and_verified():
    result = derive("A*B", "X", "A: matrix m n; B: matrix n p; X: matrix m n")
    assert result.forms["vec"] == "0"
    assert result.verified


def test_rules_name_catalog_ids_that_exist():
    from matderiv.symbolic.bench import catalog_identities

    ids = {i.id for i in catalog_identities()}
    for kind, rule in R.RULES.items():
        assert rule.catalog_id is None or rule.catalog_id in ids, kind


def test_dependent_symbols_chain_rule():
    result = derive("u.T*v", "x", "u: vector m of x; v: vector m of x; x: vector n")
    assert result.forms["denominator"] == "diff(u, x)*v + diff(v, x)*u"
    assert result.verified


def test_unsupported_construct_is_refused_not_zero():
    with pytest.raises(Refused) as info:
        derive("a.T*u", "X", "a: vector m; u: vector m of X; X: matrix m n")
    assert "dU" in info.value.construct or "diff" in info.value.reason
