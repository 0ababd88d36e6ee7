"""Format 1.1, the language of losses and layers: each addition next to a deliberately
wrong identity of the same kind that must fail; derive's rules for each, and several
variables at once."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from conftest import run_derive as _run
from matderiv.catalog.load import Identity
from matderiv.check.sizerule import size_number_degrees
from matderiv.check.verify import verify_identity
from matderiv.errors import CatalogError
from matderiv.lang import expr as E
from matderiv.lang import shapes as S
from matderiv.lang.forms import prepare
from matderiv.lang.latex import Printer
from matderiv.publish.snippet import snippet
from matderiv.symbolic import derive
from matderiv.symbolic.core import Refused


def _ident(of, wrt, symbols, derivative=None, differential=None, id_="t"):
    return Identity(id_, id_, dict(symbols), of, wrt, dict(derivative or {}), differential,
                    [], [], None, [], None, None, "<test>", 1)


def verdict(of, wrt, symbols, **forms):
    differential = forms.pop("differential", None)
    return verify_identity(_ident(of, wrt, symbols, forms, differential))


# (of, wrt, symbols, the right form, a wrong form of the same kind)
PAIRS = {
    "cross-entropy": (
        "-y.T*log_softmax(W*x)", "W", {"W": "matrix k n", "x": "vector n",
                                       "y": "vector k probability"},
        {"denominator": "(softmax(W*x) - y)*x.T"},
        {"denominator": "(softmax(W*x) - y)*x.T/k"}),
    "relu": (
        "a.T*relu(W*x)", "W", {"W": "matrix k n", "x": "vector n", "a": "vector k"},
        {"denominator": "hadamard(step(W*x), a)*x.T"},
        {"denominator": "hadamard(relu(W*x), a)*x.T"}),
    "sign-lasso": (
        "norm(X*w - y)**2/2 + sum(abs(w))", "w", {"X": "matrix m n", "w": "vector n",
                                                  "y": "vector m"},
        {"denominator": "X.T*(X*w - y) + sign(w)"},
        {"denominator": "X.T*(X*w - y) + step(w)"}),
    "mean": (
        "mean(hadamard(X*w - y, X*w - y))", "w", {"X": "matrix m n", "w": "vector n",
                                                  "y": "vector m"},
        {"denominator": "2*X.T*(X*w - y)/m"},
        {"denominator": "2*X.T*(X*w - y)/n"}),
    "size-as-number": (
        "norm(X*w - y)**2/m", "w", {"X": "matrix m n", "w": "vector n", "y": "vector m"},
        {"denominator": "2*X.T*(X*w - y)/m"},
        {"denominator": "2*X.T*(X*w - y)/(m + 1)"}),
    "bias-row-broadcast": (
        "tr(G.T*(X*W + b.T))", "b", {"X": "matrix m n", "W": "matrix n k", "b": "vector k",
                                     "G": "matrix m k"},
        {"denominator": "G.T*ones(m)"},
        {"denominator": "G.T*ones(m)/m"}),
    "bias-column-broadcast": (
        "tr(G.T*relu(W*X + b))", "b", {"X": "matrix n m", "W": "matrix k n",
                                       "b": "vector k", "G": "matrix k m"},
        {"denominator": "hadamard(step(W*X + b), G)*ones(m)"},
        {"denominator": "hadamard(relu(W*X + b), G)*ones(m)"}),
    "scalar-broadcast": (
        "sum(log(1 + exp(-z)))", "z", {"z": "vector n"},
        {"denominator": "-sigmoid(-z)"},
        {"denominator": "sigmoid(-z)"}),
    "gelu-erf-pi": (
        "x*(1 + erf(x/sqrt(2)))/2", "x", {"x": "scalar"},
        {"numerator": "(1 + erf(x/sqrt(2)))/2 + x*exp(-x**2/2)/sqrt(2*pi)"},
        {"numerator": "(1 + erf(x/sqrt(2)))/2 + x*exp(-x**2/2)/sqrt(pi)"}),
    "gaussian-n-log-2pi": (
        "n*log(2*pi*s)/2 + norm(x)**2/(2*s)", "s", {"x": "vector n", "s": "scalar positive"},
        {"numerator": "n/(2*s) - norm(x)**2/(2*s**2)"},
        {"numerator": "1/(2*s) - norm(x)**2/(2*s**2)"}),
    "attention-by-v": (
        "softmax_rows(Q*K.T/sqrt(d))*V", "V", {"Q": "matrix m d", "K": "matrix p d",
                                                "V": "matrix p q"},
        {"vec": "kron(eye(q), softmax_rows(Q*K.T/sqrt(d)))"},
        {"vec": "kron(softmax_rows(Q*K.T/sqrt(d)), eye(q))"}),
    "logsumexp": (
        "logsumexp(X)", "X", {"X": "matrix m n"},
        {"denominator": "exp(X)/sum(exp(X))"},
        {"denominator": "exp(X)/mean(exp(X))"}),
    "row-softmax": (
        "softmax(x.T*W)*a", "x", {"x": "vector n", "W": "matrix n k", "a": "vector k"},
        {"denominator": "W*(hadamard(softmax(x.T*W).T, a) - softmax(x.T*W).T*softmax(x.T*W)*a)"},
        {"denominator": "W*hadamard(softmax(x.T*W).T, a)"}),
    "lower-triangular": (
        "tr(L*L.T*A)", "L", {"L": "matrix n n lower-triangular", "A": "matrix n n"},
        {"denominator": "(A + A.T)*L"},
        {"denominator": "2*A*L"}),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_right_verified_wrong_failed(name):
    of, wrt, symbols, right, wrong = PAIRS[name]
    good = verdict(of, wrt, symbols, **right)
    assert good.status == "verified", (name, good.failures)
    assert good.guarantee == "checked"
    bad = verdict(of, wrt, symbols, **wrong)
    assert bad.status == "failed", (name, bad.failures)


def test_cross_entropy_needs_probability_labels():
    of, wrt, symbols, right, _ = PAIRS["cross-entropy"]
    plain = dict(symbols, y="vector k")
    assert verdict(of, wrt, plain, **right).status == "failed"


def test_a_kink_that_cannot_be_avoided_fails():
    v = verdict("sum(relu(x - x))", "x", {"x": "vector n"}, denominator="zeros(n)")
    assert v.status == "failed"
    assert any("could not be checked at any point" in m for _, m, _ in v.failures)


def test_structured_points_are_checked_not_proved():
    """At lower-triangular or probability points a false trace identity can vanish (the
    theorem is about generic matrices): such identities are checked, never proved."""
    of, wrt, symbols, right, _ = PAIRS["lower-triangular"]
    assert verdict(of, wrt, symbols, **right).guarantee == "checked"
    general = dict(symbols, L="matrix n n")
    assert verdict(of, wrt, general, **right).guarantee == "proved"


def _shape(text, symbols):
    decls = {n: S.parse_declaration(n, t) for n, t in symbols.items()}
    sizes = frozenset(s for d in decls.values() for s in d.size_names)
    ctx = E.Context(frozenset(decls), frozenset(), sizes, next(iter(decls)), frozenset())
    return S.infer(E.parse(text, ctx), S.ShapeEnv(decls, next(iter(decls))))


@pytest.mark.parametrize("text, code", [
    ("x + b.T", "E301"),  # a column plus a row stays invalid
    ("softmax(X)", "E302"), ("log_softmax(X)", "E302"), ("softmax(s)", "E302"),
    ("softmax_rows(x)", "E302"), ("softmax_rows(s)", "E302"), ("logsumexp(s)", "E302"),
    ("s**m", "E209"), ("k*s", "E202"),
])
def test_invalid_shapes(text, code):
    symbols = {"X": "matrix m q", "x": "vector m", "b": "vector q", "s": "scalar"}
    with pytest.raises(CatalogError) as info:
        _shape(text, symbols)
    assert info.value.code == code


@pytest.mark.parametrize("text, shape", [
    ("X + b.T", ("m", "q")), ("x + X", ("m", "q")), ("1 - X", ("m", "q")),
    ("sum(X)/m", (1, 1)), ("mean(X)", (1, 1)), ("softmax(b.T)", (1, "q")),
    ("softmax_rows(X)", ("m", "q")), ("softmax_rows(b.T)", (1, "q")), ("pi*q", (1, 1)),
    ("relu(X)", ("m", "q")), ("erf(s)", (1, 1)), ("logsumexp(x)", (1, 1)),
])
def test_valid_shapes(text, shape):
    symbols = {"X": "matrix m q", "x": "vector m", "b": "vector q", "s": "scalar"}
    got = _shape(text, symbols)
    assert tuple(str(d) for d in got) == tuple(str(d) for d in shape)


def test_declarations():
    assert "probability" in S.parse_declaration("y", "vector k probability").props
    assert "probability" in S.parse_declaration("Y", "matrix m k probability").props
    for bad in ("scalar probability", "matrix m n lower-triangular", "vector n lower-triangular",
                "vector n probability of x"):
        with pytest.raises(ValueError):
            S.parse_declaration("y", bad)


def test_symbol_named_like_a_new_function_keeps_its_meaning():
    v = verdict("step*x.T*x", "x", {"x": "vector n", "step": "scalar"},
                denominator="2*step*x")
    assert v.status == "verified"


def test_size_used_as_a_number_is_counted():
    prep = prepare(_ident("mean(X*A) + n*tr(X*A)", "X", {"X": "matrix m n", "A": "matrix n m"},
                          {"denominator": "A.T"}))
    from matderiv.check.sizerule import shape_function

    found = size_number_degrees([prep.of], shape_function(prep))
    assert set(found) == {"m", "n"}


def test_latex_notations():
    decls = {n: S.parse_declaration(n, t) for n, t in
             {"X": "matrix m q", "Q": "matrix m d", "K": "matrix p d"}.items()}
    ctx = E.Context(frozenset(decls), frozenset(), frozenset("mqdp"), "X", frozenset())
    tex = Printer(decls)
    assert r"\operatorname{ReLU}" in tex(E.parse("relu(X)", ctx))
    assert r"\operatorname{softmax}_{\text{rows}}" in tex(E.parse("softmax_rows(Q*K.T/sqrt(d))",
                                                                 ctx))
    assert r"\pi" in tex(E.parse("m*log(2*pi)", ctx))
    assert r"\operatorname{H}" in tex(E.parse("step(X)", ctx))


@pytest.mark.parametrize("name", ["relu", "mean", "gelu-erf-pi", "attention-by-v",
                                  "cross-entropy", "lower-triangular", "bias-row-broadcast"])
def test_snippet_runs(name):
    of, wrt, symbols, right, _ = PAIRS[name]
    program = snippet(prepare(_ident(of, wrt, symbols, right, id_="snippet-" + name)))
    assert program is not None
    scope: dict = {}
    exec(compile(program, "<snippet>", "exec"), scope)  # noqa: S102 - audited, our own


# ---------------------------------------------------------------- derive


DERIVE = {
    "relu": ("a.T*relu(W*x)", "W", {"W": "matrix k n", "x": "vector n", "a": "vector k"}),
    "sign": ("sum(abs(w)) + a.T*sign(w)", "w", {"w": "vector n", "a": "vector n"}),
    "erf": ("sum(erf(X))", "X", {"X": "matrix m n"}),
    "softmax-rows": ("tr(G.T*softmax_rows(Q*K.T/sqrt(d))*V)", "Q",
                     {"Q": "matrix m d", "K": "matrix p d", "V": "matrix p q",
                      "G": "matrix m q"}),
    "log-softmax": ("-y.T*log_softmax(W*x)", "x", {"W": "matrix k n", "x": "vector n",
                                                   "y": "vector k"}),
    "logsumexp": ("logsumexp(W*x)", "W", {"W": "matrix k n", "x": "vector n"}),
    "sum": ("sum(X*W - Y)", "W", {"X": "matrix m n", "W": "matrix n k", "Y": "matrix m k"}),
    "mean": ("mean(hadamard(X*w - y, X*w - y))", "w",
             {"X": "matrix m n", "w": "vector n", "y": "vector m"}),
    "broadcast": ("tr(G.T*(X*W + b.T))", "b", {"X": "matrix m n", "W": "matrix n k",
                                               "b": "vector k", "G": "matrix m k"}),
    "row-softmax": ("softmax(x.T*W)", "x", {"x": "vector n", "W": "matrix n k"}),
}


@pytest.mark.parametrize("name", sorted(DERIVE))
def test_derive_new_rules(name):
    of, wrt, symbols = DERIVE[name]
    result = derive(of, wrt, symbols)
    assert result.verified


def test_derive_broadcast_bias_sums_over_the_batch():
    result = derive(*DERIVE["broadcast"])
    assert result.forms["denominator"] == "G.T*ones(m)"


def test_derive_probability_simplification_only_where_declared():
    symbols = {"W": "matrix k n", "x": "vector n", "y": "vector k probability"}
    labelled = derive("-y.T*log_softmax(W*x)", "W", symbols)
    assert labelled.forms["denominator"] == "(softmax(W*x) - y)*x.T"
    plain = derive("-y.T*log_softmax(W*x)", "W", dict(symbols, y="vector k"))
    assert "ones(k)" in plain.forms["denominator"]


def test_wrong_rule_variants_are_rejected():
    """The verifier, which every derived form goes through, rejects a wrong rule."""
    of, wrt, symbols = DERIVE["relu"]
    assert verdict(of, wrt, symbols, denominator="hadamard(sign(W*x), a)*x.T").status == "failed"
    of, wrt, symbols = DERIVE["softmax-rows"]
    wrong = "hadamard(G*V.T, softmax_rows(Q*K.T/sqrt(d)))*K/sqrt(d)"  # no row correction
    assert verdict(of, wrt, symbols, denominator=wrong).status == "failed"
    of, wrt, symbols = DERIVE["erf"]
    assert verdict(of, wrt, symbols, denominator="exp(-hadamard(X, X))").status == "failed"
    of, wrt, symbols = DERIVE["broadcast"]
    assert verdict(of, wrt, symbols, denominator="G.T*ones(m)/m").status == "failed"


def test_derive_several_variables_from_the_command_line(capsys):
    code, out, err = _run(["derive", "--of", "tr(G.T*(X*W + b.T))", "--wrt", "W,b",
                           "--symbols", "X: matrix m n; W: matrix n k; b: vector k; "
                           "G: matrix m k", "--id", "layer", "--format", "yaml"], capsys)
    assert code == 0, err
    ids = [i["id"] for i in yaml.safe_load(out)["identities"]]
    assert ids == ["layer-wrt-w", "layer-wrt-b"]


def test_derive_several_variables_from_a_file(tmp_path, capsys):
    path = tmp_path / "in.yaml"
    path.write_text(textwrap.dedent("""\
        identities:
          - id: layer
            title: A layer
            symbols: {X: matrix m n, W: matrix n k, b: vector k, G: matrix m k}
            of: tr(G.T*relu(X*W + b.T))
            wrt: [W, b]
        """))
    code, out, err = _run(["derive", str(path)], capsys)
    assert code == 0, err
    ids = [i["id"] for i in yaml.safe_load(out)["identities"]]
    assert ids == ["layer-wrt-w", "layer-wrt-b"]


def test_derive_id_clash_is_an_error(capsys):
    code, _, err = _run(["derive", "--of", "x.T*X*x", "--wrt", "x,X", "--symbols",
                         "x: vector n; X: matrix n n"], capsys)
    assert code == 2 and "-wrt-x" in err


def test_refused_is_not_a_crash():
    with pytest.raises(Refused):
        derive("sum(X)", "Y", {"X": "matrix m n"})
