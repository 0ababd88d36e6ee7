"""Realistic search queries and the identity each must find in the top 3 results.

Written the way people type them: function names glued or abbreviated, formulas in
ASCII (`^T`, `'`, `.T`, `^-1`, with and without spaces and `*`), in Unicode (`ᵀ`, `⁻¹`,
`⊗`), in LaTeX, and in words ("derivative of ...", "gradient of ..."). All nine
categories are covered; errata are not targets. Where two identities answer a query
equally well, both are named, `a|b`. Used by test_search.py (the normaliser
and the index text) and test_search_browser.py (the built index, lunr, a real browser).
"""

QUERIES: list[tuple[str, str]] = [
    # scalar by matrix
    ("log det", "log-det"),
    ("logdet", "log-det"),
    ("derivative of log determinant", "log-det"),
    ("d/dX log|X|", "log-det"),
    ("gradient of logdet(X)", "log-det"),
    ("log det covariance", "log-det-covariance"),
    ("determinant derivative", "det"),
    ("d det(X)/dX", "det"),
    ("jacobi formula", "det"),
    ("tr(AX)", "trace-ax"),
    ("derivative of trace AX", "trace-ax"),
    ("d/dX tr(AXB)", "trace-axb"),
    ("trace(X^T B X)", "trace-xtbx"),
    ("tr(X'BX) gradient", "trace-xtbx"),
    ("trace of inverse", "trace-inverse"),
    ("tr(X^-1)", "trace-inverse"),
    ("frobenius norm squared", "frobenius-norm-squared"),
    ("||X||_F^2", "frobenius-norm-squared"),
    ("fro norm", "frobenius-norm"),
    ("a^T X b", "bilinear-form-matrix"),
    ("aTXb derivative", "bilinear-form-matrix"),
    ("a' X^-1 b", "inverse-bilinear-form"),
    ("aᵀX⁻¹b", "inverse-bilinear-form"),
    ("||XW - Y||_F^2", "least-squares-matrix"),
    ("tr(X^T X)", "trace-xtx"),
    # scalar by vector
    ("x^T A x", "grad-quadratic-form"),
    ("xTAx", "grad-quadratic-form"),
    ("x'Ax gradient", "grad-quadratic-form"),
    ("gradient of xᵀAx", "grad-quadratic-form"),
    ("derivative of x.T @ A @ x", "grad-quadratic-form"),
    ("d/dx (x^T A x)", "grad-quadratic-form"),
    ("||Ax - b||^2", "grad-least-squares"),
    ("(Ax-b)^T(Ax-b)", "grad-least-squares"),
    ("least squares gradient", "grad-least-squares"),
    ("a^T x", "grad-linear-form-vector"),
    ("gradient of a'x", "grad-linear-form-vector"),
    ("norm of x gradient", "grad-norm"),
    ("||x||^2", "grad-norm-squared"),
    ("softmax cross entropy", "grad-softmax-cross-entropy"),
    ("logistic regression loss gradient", "grad-logistic-loss"),
    ("log sum exp", "grad-log-sum-exp"),
    ("rayleigh quotient", "grad-rayleigh-quotient"),
    ("mahalanobis distance gradient", "grad-mahalanobis-distance"),
    ("x^T A x + b^T x", "grad-quadratic-plus-linear"),
    # vector by vector
    ("softmax jacobian", "jacobian-softmax"),
    ("jacobian of softmax", "jacobian-softmax"),
    ("jacobian of Ax", "jacobian-ax"),
    ("d(Ax)/dx", "jacobian-ax"),
    ("sigmoid derivative", "jacobian-sigmoid"),
    ("derivative of σ(x)", "jacobian-sigmoid"),
    ("hessian of x^T A x", "hessian-quadratic-form|quadratic-form-hessian"),
    ("jacobian x/||x||", "jacobian-normalize"),
    # scalar by scalar
    ("d/dt log det U(t)", "dd-log-det-u"),
    ("derivative of det(U(t))", "dd-det-u"),
    ("d/dt tr(U^-1)", "dd-trace-inverse-u"),
    # vector by scalar
    ("derivative of u/||u|| by t", "dt-vec-normalize"),
    ("d/dt U(t)^-1 a", "dt-vec-inverse-times-vector"),
    # matrix by scalar
    ("derivative of inverse matrix dX^-1/dt", "dt-inverse"),
    ("d/dt U^-1", "dt-inverse"),
    ("derivative of kron(U, V)", "dt-kronecker"),
    ("hadamard product rule d/dt", "dt-hadamard"),
    # matrix by matrix
    ("d(X^-1)/dX", "mm-inverse"),
    ("AXB jacobian", "mm-axb"),
    ("X^T X derivative", "mm-xtx"),
    ("kron(A, X)", "mm-kron-ax"),
    ("A ⊗ X", "mm-kron-ax"),
    ("elementwise square X∘X", "mm-hadamard-square"),
    # matrix by vector
    ("outer product x x^T", "mv-outer-product"),
    ("d(xx')/dx", "mv-outer-product"),
    ("diag(x) derivative", "mv-diag"),
    # vector by matrix
    ("d(Xa)/dX", "vm-xa"),
    ("linear layer Wx + b by the weights", "vm-linear-layer-w"),
    ("derivative of A X b by X", "vm-axb"),
]
