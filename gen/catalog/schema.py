"""The keys of the catalog format, declared once.

The loader checks against these tables, and the format reference page is generated
from them, so the docs and the code cannot disagree about what a key means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ID_PATTERN = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
ID_MAX = 60


@dataclass(frozen=True)
class Key:
    name: str
    required: bool
    kind: str  # text, expr, id, mapping, list, ...
    doc: str


IDENTITY_KEYS: tuple[Key, ...] = (
    Key("id", True, "id", "Permanent id: the permalink anchor and the citation key."),
    Key("title", True, "text", "Short plain-text title."),
    Key("symbols", True, "mapping", "Every name used, mapped to its declaration."),
    Key("of", True, "expr", "The expression that is differentiated."),
    Key("wrt", True, "name", "The variable: a declared scalar, vector or matrix."),
    Key("derivative", False, "mapping", "The derivative in `numerator`, `denominator`, `vec`."),
    Key("differential", False, "expr", "d(of), linear in d<wrt> (and dU for dependent U)."),
    Key("hessian", False, "expr", "For a scalar `of`: the matrix of second derivatives, "
        "d²f/dx dxᵀ (n × n) by a vector, d²f/dvec(X) dvec(X)ᵀ (mn × mn) by a matrix, f'' by "
        "a scalar. It is symmetric, so no layout question arises. Allowed alone (without "
        "`derivative`); see HESSIAN below."),
    Key("conditions", False, "list of texts", "Shape conditions the identity needs, such as "
        "`m >= n`: comparisons `>= > <= <` of two size names, or of a size name and an "
        "integer lower bound. Every size assignment checked honours them; see CONDITIONS."),
    Key("tags", False, "list of text", "Search words; `essential` marks the wall-sheet set."),
    Key("sources", False, "list of mappings", "References: `ref` plus eq/table/row/page/section."),
    Key("notes", False, "text", "Markdown prose without raw HTML."),
    Key("see_also", False, "list of ids", "Related identities."),
    Key("status", False, "text", "`erratum`: a published claim kept to be shown refuted."),
    Key("corrected_by", False, "id", "For an erratum: the id of the correct identity."),
)

DERIVATIVE_KEYS: tuple[Key, ...] = (
    Key("numerator", False, "expr", "Numerator layout: axes of Y, then axes of X reversed."),
    Key("denominator", False, "expr", "Denominator layout: the numerator layout transposed."),
    Key("vec", False, "expr", "Magnus-Neudecker Jacobian d vec(Y) / d vec(X)^T."),
    Key("symmetric_tied", False, "expr", "For a scalar `of` by a matrix declared `symmetric` "
        "(or `positive-definite`): the derivative with X_ij and X_ji one variable (Matrix "
        "Cookbook §2.8): G + Gᵀ − G∘I with G the ordinary gradient; see SYMMETRIC_TIED."),
)

SOURCE_KEYS: tuple[Key, ...] = (
    Key("ref", True, "text", "A key of catalog/references.yaml (cookbook, wikipedia, ...)."),
    Key("eq", False, "number", "Equation number."),
    Key("table", False, "text", "Table name (Wikipedia: the category table)."),
    Key("row", False, "number", "Row within the table, counted from the top."),
    Key("page", False, "number", "Page."),
    Key("section", False, "text", "Section."),
)

KINDS = ("scalar", "vector", "matrix", "function", "integer")
PROPERTIES: dict[str, str] = {
    "symmetric": "equal to its transpose",
    "skew-symmetric": "equal to minus its transpose",
    "positive-definite": "symmetric positive definite (so also invertible)",
    "invertible": "invertible",
    "orthogonal": "orthogonal: its transpose is its inverse",
    "diagonal": "diagonal",
    "positive": "positive (every entry, for a vector or matrix)",
    "nonzero": "nonzero (every entry, for a vector or matrix)",
    "probability": "a vector of positive entries summing to 1; for a matrix, every row is "
    "such a vector (a batch of labels); not for a scalar (format 1.1)",
    "lower-triangular": "a square matrix with zeros above the diagonal (format 1.1)",
}
SQUARE_PROPERTIES = {
    "symmetric", "skew-symmetric", "positive-definite", "invertible", "orthogonal", "diagonal",
    "lower-triangular",
}
FUNCTIONS: dict[str, str] = {
    "tr": "trace of a square matrix",
    "det": "determinant of a square matrix",
    "inv": "inverse of a square matrix",
    "log": "natural logarithm (elementwise on arrays)",
    "exp": "exponential (elementwise on arrays; not the matrix exponential)",
    "sqrt": "square root (elementwise)",
    "abs": "absolute value (elementwise)",
    "sin": "sine (elementwise)",
    "cos": "cosine (elementwise)",
    "tanh": "hyperbolic tangent (elementwise)",
    "sigmoid": "logistic function 1/(1+exp(-x)) (elementwise)",
    "softmax": "softmax of a column or row vector (keeps its shape)",
    "norm": "2-norm of a vector, Frobenius norm of a matrix",
    "kron": "Kronecker product",
    "hadamard": "elementwise product",
    "diag": "vector -> diagonal matrix; square matrix -> vector of its diagonal",
    "vec": "stack the columns into one column",
    "eye": "identity matrix eye(n)",
    "ones": "ones(n): vector of ones; ones(m, n): matrix of ones",
    "zeros": "zeros(n): zero vector; zeros(m, n): zero matrix",
    "sum": "sum of all entries of a vector or matrix (a scalar; of a scalar, itself)",
    "mean": "sum of all entries divided by their number",
    "relu": "max(x, 0) (elementwise; not differentiable at 0: checked away from it)",
    "sign": "sign: 1 where positive, -1 where negative (elementwise; derivative 0 away from 0)",
    "step": "Heaviside step: 1 where positive, 0 where negative (elementwise)",
    "erf": "error function (elementwise)",
    "softmax_rows": "softmax of each row of a matrix (or of a row vector)",
    "log_softmax": "v - logsumexp(v) for a column or row vector",
    "logsumexp": "log(sum(exp(A))) for a vector or matrix: a scalar",
    "diff": "diff(U, x): derivative of a dependent symbol in the form's layout; "
    "diff(g)(u): derivative of a generic function",
    # format 1.2 (issue 15): matrix functions, elementwise powers and quotients
    "tan": "tangent (elementwise; format 1.2)",
    "expm": "matrix exponential of a square matrix, sum of X^k/k! (format 1.2; the exact "
    "check uses points where its argument's 1-norm is at most 16, a larger one is redrawn "
    "narrower)",
    "logm": "principal matrix logarithm of a square matrix, the L with expm(L) = A "
    "(format 1.2). Defined where no eigenvalue lies on the closed negative real axis; a "
    "point with an eigenvalue within 1e-6 of that axis (relative to its size), or of "
    "magnitude outside 2^-20 .. 2^20, is redrawn. Declare the argument `positive-definite` "
    "(or write it as eye(n) plus a small term) so that points exist",
    "pinv": "Moore-Penrose pseudo-inverse (format 1.2): (X.T*X)^-1*X.T for a tall matrix of "
    "full column rank, X.T*(X*X.T)^-1 for a wide one of full row rank, inv(X) for a square "
    "one. Its derivative exists where the rank is constant; the format uses it at full-rank "
    "points only (a rank-deficient point is redrawn)",
    "hadamard_pow": "hadamard_pow(A, p): every entry of A to the scalar power p (format "
    "1.2); `v**p` means the same for a vector v, while `X**k` stays the matrix power of a "
    "square matrix",
    "hadamard_div": "hadamard_div(A, B): entry-by-entry quotient of two arrays of one shape "
    "(format 1.2); `A / B` means the same when both are arrays of one shape",
    "commutation": "commutation(m, n): the mn × mn commutation matrix K, K*vec(A) = "
    "vec(A.T) for A m × n (format 1.2); its arguments are sizes, as eye's",
}
ELEMENTWISE = ("log", "exp", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "sign",
               "step", "erf", "tan")
TRANSCENDENTAL = {"log", "exp", "sqrt", "sin", "cos", "tanh", "sigmoid", "softmax", "norm",
                  "erf", "softmax_rows", "log_softmax", "logsumexp", "tan", "expm", "logm"}
# added in format 1.1: a version-1 file may still declare a symbol of one of these names
FUNCTIONS_1_1 = frozenset({"sum", "mean", "relu", "sign", "step", "erf", "softmax_rows",
                           "log_softmax", "logsumexp"})
# added in format 1.2 (issue 15), likewise still free as symbol names in older files
FUNCTIONS_1_2 = frozenset({"tan", "expm", "logm", "pinv", "hadamard_pow", "hadamard_div",
                           "commutation"})
LATER_FUNCTIONS = FUNCTIONS_1_1 | FUNCTIONS_1_2
ELEMENTWISE_ARRAYS = ("Format 1.2: `A / B` for two arrays of one shape is the entry-by-entry "
                      "quotient, as in NumPy (`hadamard_div(A, B)`); `v**p` for a column or "
                      "a row vector v is the entry-by-entry power (`hadamard_pow(v, p)`), so "
                      "`sum((X*w - y)**2)` reads as it does in NumPy. For a square matrix "
                      "`X**k` stays the matrix power, and a non-square matrix has no `**` "
                      "(write `hadamard_pow(X, p)`). `/` by a scalar is unchanged; a scalar "
                      "divided by an array stays invalid (write `hadamard_div(ones(m, n), X)` "
                      "or `hadamard_pow(X, -1)`).")
KINKED = ("relu", "sign", "step", "abs")  # not differentiable where an argument is 0
CONSTANTS: dict[str, str] = {"pi": "the constant π (format 1.1)"}
SIZE_NUMBERS = ("a size name (any lower-case name used as a size in a declaration) stands "
                "for its value wherever a scalar may, never in an exponent (format 1.1)")
BROADCASTING = ("`+` and `-` broadcast (format 1.1): a scalar plus an array is added to every "
                "entry (`1 - A` is not `eye(n) - A`); a row vector 1 × q plus an m × q matrix "
                "is added to every row; a column m × 1 plus an m × q matrix to every column. "
                "Every other mismatch, a column plus a row included, is invalid.")

INTEGERS = ("`k: integer` declares a symbolic integer (format 1.2). It stands for its value "
            "wherever a scalar may (`k*X**(k - 1)`), and, unlike a size, also in an exponent: "
            "`X**k`, `X**(k - 1)`, `x**(2*k)` (an exponent built from integers and integer "
            "names with `+ - *`). The exact and the numeric check run at k = 0, 1, 2, 3 and 5, "
            "and also at k = -1 and -2 when every matrix raised to a power that holds an "
            "integer name is declared `invertible` (or `positive-definite`, `orthogonal`). "
            "The size rule's theorem covers fixed degrees only, so such an identity is "
            "*checked*, never *proved*: it is verified for the values of k tried, not for "
            "every k.")
HESSIAN = ("`hessian` (format 1.2) is the matrix H of second derivatives of a scalar `of`: "
           "H_ij = ∂²f/∂x_i∂x_j by a vector x (n × n), ∂²f/∂vec(X)_i∂vec(X)_j by a matrix X "
           "(mn × mn, columns of X stacked), f'' by a scalar. H is symmetric, so the "
           "numerator and the denominator layouts coincide and the form needs no layout. "
           "It is checked as the derivative of the gradient of `of`, never of a given form: "
           "exactly, by dual numbers nested in dual numbers (rational arithmetic, or 256-bit "
           "where a transcendental function appears), and numerically, by central "
           "differences (Richardson-extrapolated) of gradients taken by complex step. A "
           "`hessian` may be given alone, without `derivative`, since the verifier "
           "differentiates `of` twice itself; a `derivative` given beside it is checked on "
           "its own. `of` must be a scalar, and no symbol may depend on the variable nor a "
           "generic function appear (their second derivatives are not stated).")
CONDITIONS = ("`conditions` (format 1.2) lists the shape conditions an identity needs: "
              "`m >= n`, `m > n`, `n <= m`, `n < m` between two size names, or `n >= 2`, "
              "`n > 1` (a lower bound by an integer). Without conditions every pair of size "
              "names is tried in both orders, so an identity that needs a tall matrix fails; "
              "with them, every assignment of the exact and the numeric check satisfies them "
              "(and the size rule's bound still holds in one exact assignment), and the pairs "
              "they leave free are still tried in both orders. `m == n` is refused (declare one "
              "size), as are upper bounds by an integer (declare the integer size), a size name "
              "no declaration uses, and conditions no assignment of distinct sizes can satisfy "
              "(`m > n` with `n > m`).")
SYMMETRIC_TIED = ("`derivative.symmetric_tied` (format 1.2), allowed only for a scalar `of` "
                  "by a matrix X declared `symmetric` or `positive-definite`, is the Matrix "
                  "Cookbook's derivative with respect to a symmetric matrix (§2.8, eqs "
                  "138-141): X_ij and X_ji are one variable, and entry (i, j) is the "
                  "derivative of f along the direction E_ij + E_ji (E_ii on the diagonal). "
                  "With G the ordinary gradient (every entry independent, denominator layout) "
                  "it is G + Gᵀ − G∘I. It is not the gradient of f on the space of symmetric "
                  "matrices with the trace inner product, (G + Gᵀ)/2, which is what "
                  "gradient descent on symmetric matrices needs: the two differ by a factor "
                  "2 off the diagonal (Srinivasan & Panda 2023). The checker perturbs X_ij "
                  "and X_ji together. The result is symmetric: no layout question arises.")


CATEGORIES: tuple[str, ...] = tuple(
    f"{y}-by-{x}" for y in ("scalar", "vector", "matrix") for x in ("scalar", "vector", "matrix")
)
TENSOR_CATEGORIES = ("vector-by-matrix", "matrix-by-vector", "matrix-by-matrix")


def identity_key(name: str) -> Key | None:
    return next((k for k in IDENTITY_KEYS if k.name == name), None)


def _table(keys: tuple[Key, ...]) -> str:
    rows = ["| key | required | meaning |", "|---|---|---|"]
    rows += [f"| `{k.name}` | {'yes' if k.required else 'no'} | {k.doc} |" for k in keys]
    return "\n".join(rows)


def reference_markdown() -> str:
    """The format reference page, generated from the tables above."""
    props = "\n".join(f"- `{p}`: {d}" for p, d in PROPERTIES.items())
    funcs = "\n".join(f"- `{f}`: {d}" for f, d in FUNCTIONS.items())
    return (
        "## Keys of an identity\n\n" + _table(IDENTITY_KEYS)
        + "\n\n## Keys of `derivative`\n\n" + _table(DERIVATIVE_KEYS)
        + "\n\n## Keys of a `sources` entry\n\n" + _table(SOURCE_KEYS)
        + "\n\n## Properties\n\n" + props
        + "\n\n## Functions\n\n" + funcs
        + "\n\n## Constants and sizes\n\n"
        + "\n".join(f"- `{c}`: {d}" for c, d in CONSTANTS.items())
        + "\n- " + SIZE_NUMBERS
        + "\n\n## Broadcasting\n\n" + BROADCASTING
        + "\n\n## Integer symbols\n\n" + INTEGERS
        + "\n\n## Hessians\n\n" + HESSIAN
        + "\n\n## Shape conditions\n\n" + CONDITIONS
        + "\n\n## The derivative with respect to a symmetric matrix\n\n" + SYMMETRIC_TIED
        + "\n\n## Elementwise `/` and `**`\n\n" + ELEMENTWISE_ARRAYS
        + "\n"
    )
