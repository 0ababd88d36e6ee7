"""Declarations, shape inference with symbolic sizes, the nine categories and the layout
rule, `arrange` against hand-computed arrays."""

from __future__ import annotations

import numpy as np
import pytest
from matderiv.catalog.schema import CATEGORIES
from matderiv.errors import CatalogError
from matderiv.lang import expr as E
from matderiv.lang import shapes as S

m, n = S.size("m"), S.size("n")
ONE = S.ONE
SHAPES = {"scalar": (ONE, ONE), "vector": (m, ONE), "matrix": (m, n)}
WRT = {"scalar": (ONE, ONE), "vector": (n, ONE), "matrix": (m, n)}

# (of, wrt) -> (numerator, denominator); None: more than two axes
LAYOUTS = {
    ("scalar", "scalar"): ((ONE, ONE), (ONE, ONE)),
    ("scalar", "vector"): ((ONE, n), (n, ONE)),
    ("scalar", "matrix"): ((n, m), (m, n)),
    ("vector", "scalar"): ((m, ONE), (ONE, m)),
    ("vector", "vector"): ((m, n), (n, m)),
    ("vector", "matrix"): (None, None),
    ("matrix", "scalar"): ((m, n), (n, m)),
    ("matrix", "vector"): (None, None),
    ("matrix", "matrix"): (None, None),
}


def test_the_nine_categories():
    assert len(LAYOUTS) == 9
    assert sorted(f"{y}-by-{x}" for y, x in LAYOUTS) == sorted(CATEGORIES)


@pytest.mark.parametrize("y, x", sorted(LAYOUTS), ids=lambda v: v)
def test_category_and_layout_shapes(y, x):
    y_shape, x_shape = SHAPES[y], WRT[x]
    assert S.category(y_shape, x_shape) == f"{y}-by-{x}"
    numerator, denominator = LAYOUTS[(y, x)]
    assert S.layout_shape(y_shape, x_shape, "numerator") == numerator
    assert S.layout_shape(y_shape, x_shape, "denominator") == denominator
    vec = (S.numel(y_shape), S.numel(x_shape))
    assert S.layout_shape(y_shape, x_shape, "vec") == vec
    assert S.layout_shape(y_shape, x_shape, "vec_denominator") == vec[::-1]


def test_kind_of_drops_unit_axes():
    assert S.kind_of((ONE, ONE)) == "scalar"
    assert S.kind_of((n, ONE)) == "vector"
    assert S.kind_of((ONE, n)) == "vector"
    assert S.kind_of((m, n)) == "matrix"
    assert S.kind_of((n, n)) == "matrix"


# ---------------------------------------------------------------- arrange


def D_of(yr, yc, xr, xc):
    """D[i, j, k, l] = 1000 i + 100 j + 10 k + l: every entry tells where it came from."""
    i, j, k, l = np.indices((yr, yc, xr, xc))
    return 1000 * i + 100 * j + 10 * k + l


def test_arrange_matrix_by_scalar():
    D = D_of(2, 2, 1, 1)
    y, x = (S.size("p"), S.size("q")), (ONE, ONE)
    assert S.arrange(D, "numerator", y, x).tolist() == [[0, 100], [1000, 1100]]
    assert S.arrange(D, "denominator", y, x).tolist() == [[0, 1000], [100, 1100]]
    # vec stacks the columns of Y: Y[0,0], Y[1,0], Y[0,1], Y[1,1]
    assert S.arrange(D, "vec", y, x).tolist() == [[0], [1000], [100], [1100]]
    assert S.arrange(D, "vec_denominator", y, x).tolist() == [[0, 1000, 100, 1100]]


def test_arrange_scalar_by_matrix():
    D = D_of(1, 1, 2, 3)
    y, x = (ONE, ONE), (m, n)
    assert S.arrange(D, "denominator", y, x).tolist() == [[0, 1, 2], [10, 11, 12]]
    assert S.arrange(D, "numerator", y, x).tolist() == [[0, 10], [1, 11], [2, 12]]
    # columns of X stacked: X[0,0], X[1,0], X[0,1], X[1,1], X[0,2], X[1,2]
    assert S.arrange(D, "vec", y, x).tolist() == [[0, 10, 1, 11, 2, 12]]


def test_arrange_vector_by_vector():
    D = D_of(3, 1, 2, 1)
    y, x = (m, ONE), (n, ONE)
    assert S.arrange(D, "numerator", y, x).tolist() == [[0, 10], [1000, 1010], [2000, 2010]]
    assert S.arrange(D, "denominator", y, x).tolist() == [[0, 1000, 2000], [10, 1010, 2010]]


def test_arrange_scalar_by_vector_and_vector_by_scalar():
    D = D_of(1, 1, 3, 1)
    assert S.arrange(D, "numerator", (ONE, ONE), (n, ONE)).tolist() == [[0, 10, 20]]
    assert S.arrange(D, "denominator", (ONE, ONE), (n, ONE)).tolist() == [[0], [10], [20]]
    D = D_of(3, 1, 1, 1)
    assert S.arrange(D, "numerator", (m, ONE), (ONE, ONE)).tolist() == [[0], [1000], [2000]]
    assert S.arrange(D, "denominator", (m, ONE), (ONE, ONE)).tolist() == [[0, 1000, 2000]]


def test_arrange_matrix_by_matrix_vec():
    D = D_of(2, 3, 2, 2)
    jac = S.arrange(D, "vec", (m, n), (S.size("p"), S.size("q")))
    assert jac.shape == (6, 4)
    for row in range(6):
        i, j = row % 2, row // 2
        for col in range(4):
            k, l = col % 2, col // 2
            assert jac[row, col] == 1000 * i + 100 * j + 10 * k + l
    assert S.arrange(D, "numerator", (m, n), (S.size("p"), S.size("q"))) is None


def test_arrange_keeps_a_size_one_matrix_axis_of_a_fixed_size():
    """A declared 1 x 1 matrix reads like a scalar; a declared `matrix 3 1` keeps its rows."""
    D = D_of(3, 1, 1, 1)
    assert S.arrange(D, "numerator", (S.size("3"), ONE), (ONE, ONE)).shape == (3, 1)


# ---------------------------------------------------------------- declarations


@pytest.mark.parametrize("text, kind, shape, props, of", [
    ("scalar", "scalar", (ONE, ONE), set(), None),
    ("scalar positive", "scalar", (ONE, ONE), {"positive"}, None),
    ("vector n", "vector", (n, ONE), set(), None),
    ("vector 3", "vector", (S.size("3"), ONE), set(), None),
    ("matrix m n", "matrix", (m, n), set(), None),
    ("matrix n n symmetric positive-definite", "matrix", (n, n),
     {"symmetric", "positive-definite"}, None),
    ("matrix m n of t", "matrix", (m, n), set(), "t"),
    ("matrix n n invertible of t", "matrix", (n, n), {"invertible"}, "t"),
    ("function", "function", (), set(), None),
])
def test_declarations(text, kind, shape, props, of):
    decl = S.parse_declaration("Z", text)
    assert (decl.kind, decl.shape, set(decl.props), decl.depends_on) == (kind, shape, props, of)


@pytest.mark.parametrize("text", [
    "", "tensor n n n", "vector", "matrix n", "vector N", "vector 0", "vector 1025", "vector -1",
    "matrix m n symmetric", "vector n symmetric", "scalar invertible", "matrix n n shiny",
    "matrix n n symmetric skew-symmetric", "matrix n n positive-definite skew-symmetric",
    "function of t", "function positive", "matrix n n orthogonal of t", "vector n_1",
])
def test_bad_declarations(text):
    with pytest.raises(ValueError):
        S.parse_declaration("Z", text)


# ---------------------------------------------------------------- inference


DECLS = {name: S.parse_declaration(name, text) for name, text in {
    "x": "vector n", "y": "vector m", "A": "matrix m n", "X": "matrix n n", "t": "scalar",
    "B": "matrix n m", "g": "function", "U": "matrix m n of x",
}.items()}
CONTEXT = E.Context(
    symbols=frozenset(n for n, d in DECLS.items() if d.kind != "function"),
    functions=frozenset({"g"}), sizes=frozenset({"m", "n"}), wrt="x",
    dependent=frozenset({"U"}), differentials=True, diffs=True, where="of")


def infer(text, layout=None):
    return S.infer(E.parse(text, CONTEXT), S.ShapeEnv(DECLS, "x", layout))


@pytest.mark.parametrize("text, shape", [
    ("x", (n, ONE)), ("x.T", (ONE, n)), ("x.T*x", (ONE, ONE)), ("A*x", (m, ONE)),
    ("y.T*A*x", (ONE, ONE)), ("x*y.T", (n, m)), ("t*A", (m, n)), ("A*t", (m, n)),
    ("A/t", (m, n)), ("X**3", (n, n)), ("X**-1", (n, n)), ("t**0.5", (ONE, ONE)),
    ("tr(X)", (ONE, ONE)), ("det(X)", (ONE, ONE)), ("inv(X)", (n, n)), ("log(A)", (m, n)),
    ("kron(A, B)", (m * n, n * m)), ("kron(x, y)", (m * n, ONE)), ("hadamard(A, A)", (m, n)),
    ("diag(x)", (n, n)), ("diag(X)", (n, ONE)), ("vec(A)", (m * n, ONE)),
    ("eye(n)", (n, n)), ("ones(m)", (m, ONE)), ("zeros(m, n)", (m, n)),
    ("softmax(x)", (n, ONE)), ("norm(A)", (ONE, ONE)), ("g(A)", (m, n)), ("dx", (n, ONE)),
    ("kron(B, A).T", (n * m, m * n)), ("eye(3)", (S.size("3"), S.size("3"))),
])
def test_inferred_shapes(text, shape):
    assert infer(text) == shape


def test_kronecker_sizes_commute():
    assert infer("vec(kron(A, B))") == infer("vec(kron(B, A))")


@pytest.mark.parametrize("layout, shape", [
    ("numerator", (m, n)), ("denominator", (n, m)), ("vec", (m * n, n)),
])
def test_diff_of_takes_the_layout_of_its_form(layout, shape):
    # U is m x n of the vector x (n): numerator has three axes, so only vec fits
    if layout == "vec":
        assert infer("diff(U, x)", layout) == shape
    else:
        with pytest.raises(CatalogError) as info:
            infer("diff(U, x)", layout)
        assert info.value.code == "E303"


@pytest.mark.parametrize("text, code", [
    ("A*A", "E300"), ("x*x", "E300"), ("A*y", "E300"), ("x + y", "E301"), ("A - B", "E301"),
    ("x + x.T", "E301"),  # format 1.1: a scalar broadcasts (x + t), a column + a row not
    ("tr(A)", "E302"), ("det(x)", "E302"), ("inv(A)", "E302"),
    ("softmax(A)", "E302"), ("softmax(t)", "E302"), ("hadamard(A, B)", "E302"),
    ("diag(A)", "E302"), ("diag(t)", "E302"), ("x/y", "E303"), ("A**2", "E303"),
    ("t**x", "E303"), ("X**t", "E303"), ("X**0.5", "E303"),
])
def test_inconsistent_shapes(text, code):
    with pytest.raises(CatalogError) as info:
        infer(text)
    assert info.value.code == code


def test_numeric_sizes_beyond_eight_are_sizes():
    """The format allows any positive integer size; what it costs is the budget's call."""
    assert S.parse_declaration("x", "vector 9").shape == (9, 1)
    assert S.parse_declaration("X", "matrix 12 3").shape == (12, 3)
