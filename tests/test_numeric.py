"""The numeric backend: float points that honour properties and cover the domain,
complex-step derivatives, relative errors where NaN and Inf never pass."""

from __future__ import annotations

import numpy as np
import pytest
from matderiv.check import numeric as N


@pytest.mark.parametrize("props", [
    {"symmetric"}, {"skew-symmetric"}, {"diagonal"}, {"positive-definite"}, {"orthogonal"},
    {"positive"}, {"nonzero"}, {"invertible"}, set(),
])
def test_float_points_honour_properties(props):
    rng = np.random.default_rng(3)
    for _ in range(5):
        size = 2 if "skew-symmetric" in props else 4  # odd skew matrices are singular
        m = N.matrix(rng, size, size, props)
        if props & {"symmetric", "positive-definite"}:
            assert np.array_equal(m, m.T)
        if "skew-symmetric" in props:
            assert np.array_equal(m, -m.T)
        if "diagonal" in props:
            assert np.count_nonzero(m - np.diag(np.diag(m))) == 0
        if "positive-definite" in props:
            assert np.linalg.eigvalsh(m).min() > 0
        if "orthogonal" in props:
            assert np.allclose(m.T @ m, np.eye(size), atol=1e-12)
        if "positive" in props:
            assert (m > 0).all()
        if "nonzero" in props:
            assert (np.abs(m) > 0).all()
        if not props & {"positive-definite", "positive", "diagonal", "orthogonal"}:
            assert np.linalg.cond(m) <= N.MAX_COND


def test_points_cover_orders_of_magnitude():
    """Narrow samplers hide false identities: positive values, nonzero magnitudes and
    positive-definite eigenvalues must fall far below and far above 1."""
    rng = np.random.default_rng(0)
    positive = [N.scalar(rng, positive=True) for _ in range(400)]
    assert min(positive) < 1e-2 and max(positive) > 1e2 and min(positive) > 0
    signed = [N.scalar(rng) for _ in range(400)]
    assert min(signed) < -1 and max(signed) > 1
    eigen = np.concatenate([np.linalg.eigvalsh(N.matrix(rng, 4, 4, {"positive-definite"}))
                            for _ in range(50)])
    assert eigen.min() > 0 and eigen.min() < 1e-2 and eigen.max() > 1e2


def test_orthogonal_points_of_both_determinants():
    rng = np.random.default_rng(1)
    for flip, sign in ((False, 1), (True, -1)):
        m = N.matrix(rng, 5, 5, {"orthogonal"}, flip=flip)
        assert np.isclose(np.linalg.det(m), sign)


def test_narrower_levels_after_overflow():
    rng = np.random.default_rng(2)
    wide = max(abs(N.scalar(rng, level=0)) for _ in range(300))
    narrow = max(abs(N.scalar(rng, level=3)) for _ in range(300))
    assert narrow < wide and narrow <= 10 ** (N.SPREAD / 4) + 1e-9


def test_complex_step():
    x0 = np.array([[0.3, -1.2], [0.7, 2.0]])

    def f(X):
        return X @ X  # d(X X)[i, j]/dX[k, l] = delta_ik X[l, j] + X[i, k] delta_lj

    expected = np.zeros((2, 2, 2, 2))
    for i in range(2):
        for j in range(2):
            for k in range(2):
                for l in range(2):
                    expected[i, j, k, l] = (i == k) * x0[l, j] + x0[i, k] * (l == j)
    assert np.allclose(N.jacobian(f, x0), expected, atol=1e-12)


def test_complex_step_through_abs():
    """abs carries the complex step as x·sign(Re x): its derivative is sign(x)."""
    x0 = np.array([[0.3, -1.2]])
    D = N.jacobian(lambda X: N.NP_FUNCTIONS["abs"](X), x0)
    assert D[0, 0, 0, 0] == 1.0 and D[0, 1, 0, 1] == -1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_never_pass(bad):
    good = np.ones((2, 2))
    broken = good.copy()
    broken[0, 1] = bad
    assert N.relative_error(broken, good) == float("inf")
    assert N.relative_error(good, broken) == float("inf")


def test_relative_error_scale():
    assert N.relative_error(np.array([[1.0]]), np.array([[1.0]])) == 0
    assert N.relative_error(np.array([[1e-3]]), np.array([[0.0]])) == pytest.approx(1e-3)
    assert N.relative_error(np.array([[101.0]]), np.array([[100.0]])) == pytest.approx(0.01)


def test_vec_is_column_major():
    alg = N.NumpyAlgebra({})
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert alg.call("vec", [a]).ravel().tolist() == [1, 4, 2, 5, 3, 6]
    assert alg.call("diag", [np.array([[1.0], [2.0]])]).tolist() == [[1, 0], [0, 2]]
    assert alg.call("kron", [np.eye(2), a]).shape == (4, 6)


# ---------------------------------------------------------------- one BLAS thread


def _vec_errors(tmp_path, vec: str, sizes: dict) -> float:
    """The numeric check's core on one identity: `of` through the Evaluator on NumPy,
    its Jacobian by complex step, the vec form evaluated and compared."""
    from conftest import identity, write
    from matderiv.catalog.load import load_file
    from matderiv.check.evaluate import Evaluator
    from matderiv.lang.forms import prepare
    from matderiv.lang.shapes import arrange

    item = identity("v", {"A": "matrix m n", "X": "matrix n p", "B": "matrix p q"},
                    "A*X*B", "X", {"vec": vec})
    (ident,), _ = load_file(write(tmp_path, item))
    prep = prepare(ident)
    rng = np.random.default_rng(7)
    alg = N.NumpyAlgebra({})
    shapes = {"A": ("m", "n"), "X": ("n", "p"), "B": ("p", "q")}
    values = {name: N.matrix(rng, sizes[r], sizes[c], set()) for name, (r, c) in shapes.items()}

    def f(x):
        return Evaluator(alg, {**values, "X": x}, sizes)(prep.of)

    D = N.jacobian(f, values["X"])
    expected = arrange(D, "vec", prep.of_shape, prep.wrt.shape, prep.keep_x)
    form = Evaluator(alg, values, sizes)(prep.forms["vec"].tree)
    return N.relative_error(np.asarray(form, dtype=float), expected)


def test_single_threaded_blas_changes_no_product():
    """The numeric check asks for one BLAS thread (the workers already fill the cores):
    a product large enough to be split over threads has the same value with one."""
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((150, 140)), rng.standard_normal((140, 160))
    before = a @ b
    assert N._blas_threads_set  # asked for at import, before any worker is forked
    assert N.single_threaded_blas() in (True, False)
    N.NumpyAlgebra({})  # asks again: harmless
    assert np.array_equal(a @ b, before)


def test_single_threaded_blas_still_rejects_a_wrong_vec_form(tmp_path):
    """Through the one-thread products (Kronecker forms of 120 x 132 and more), the true
    vec form of d(A X B) agrees to rounding and a lost transpose is far out of tolerance."""
    N.single_threaded_blas()
    sizes = {"m": 10, "n": 12, "p": 11, "q": 12}
    assert _vec_errors(tmp_path, "kron(B.T, A)", sizes) < 1e-12
    assert _vec_errors(tmp_path, "kron(B.T, A)*commutation(n, p)", sizes) > 1e-2


def test_complex_step_points_are_the_definition():
    """jacobian steps from one complex copy of x0: each point it passes to f is, bit for
    bit, x0 + 1j·h·e_kl as the definition writes it (a signed zero in x0 included)."""
    x0 = np.array([[0.3, -0.0, 2.5], [-1e-300, 7.0, 0.0]])
    seen = []
    N.jacobian(lambda x: (seen.append(x.copy()), x @ x.T)[1], x0)
    steps = seen[1:]
    assert len(steps) == x0.size
    for (k, l), x in zip(np.ndindex(*x0.shape), steps):
        e = np.zeros(x0.shape)
        e[k, l] = 1.0
        want = x0 + 1j * N.STEP_COMPLEX * e
        assert x.tobytes() == want.tobytes()


def test_call_table_keeps_every_function():
    alg = N.NumpyAlgebra({})
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    assert alg.call("tr", [a]).tolist() == [[5.0]]
    assert np.isclose(alg.call("det", [a])[0, 0], 5.0)
    assert alg.call("hadamard", [a, a]).tolist() == (a * a).tolist()
    assert alg.call("hadamard_pow", [a, np.array([[2.0]])]).tolist() == (a ** 2).tolist()
    assert np.allclose(alg.call("inv", [a]) @ a, np.eye(2))
    with pytest.raises(ValueError):
        alg.call("no-such-function", [a])


# ---------------------------------------------------------------- the Evaluator's table


def test_evaluator_table_finds_the_visitors_rules():
    """The Evaluator dispatches through a table from node class to rule: the same value as
    the Visitor's lookup by name, the rules of a subclass its own, and a kind with no rule
    the Visitor's error."""
    from fractions import Fraction

    from matderiv.check.evaluate import Evaluator
    from matderiv.lang import expr as E

    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    tree = E.Bin("-", E.Call("tr", (E.Bin("*", E.Sym("A"), E.Transpose(E.Sym("A"))),)),
                 E.Neg(E.Num(Fraction(3, 2))))
    ev = Evaluator(N.NumpyAlgebra({}), {"A": a}, {})
    assert ev(tree).tolist() == ev.visit(tree).tolist() == [[np.trace(a @ a.T) + 1.5]]

    class Doubled(Evaluator):
        def _Num(self, node):
            return self.alg.const(2 * node.value)

    assert Doubled(N.NumpyAlgebra({}), {"A": a}, {})(tree).tolist() == [[np.trace(a @ a.T) + 3]]
    assert ev(tree).tolist() == [[np.trace(a @ a.T) + 1.5]]  # the base class keeps its own

    class Unknown:
        pass

    with pytest.raises(TypeError, match="no rule for Unknown"):
        ev(Unknown())


def test_the_verifier_loads_numpy_random_before_any_worker_forks():
    """NumPy 2 loads numpy.random on first use (10-20 ms); numeric imports it, so the
    process that forks the workers has it and no worker loads it again."""
    import subprocess
    import sys

    code = "import sys, matderiv.check.verify; print('numpy.random' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "True"
