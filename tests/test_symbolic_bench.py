"""`make bench` (python -m matderiv.symbolic.bench): matderiv and SymPy's MatrixSymbol.diff
on the same expressions in the same run, side by side per category."""

from matderiv.symbolic import bench as B


def _rows(ids):
    wanted = [i for i in B.catalog_identities() if i.id in ids]
    assert len(wanted) == len(ids)
    return [B._one(i, True) for i in wanted]


def test_both_engines_run_on_the_same_expressions():
    rows = _rows({"log-det", "grad-quadratic-form"})
    by_id = {r["id"]: r for r in rows}
    assert all(r["status"] == "verified" for r in rows)
    # SymPy 1.14 answers 0 for log det: derived, but not correct
    assert by_id["log-det"]["sympy"]["status"] == "derived"
    assert by_id["log-det"]["sympy"]["correct"] is False
    assert by_id["grad-quadratic-form"]["sympy"]["correct"] is True
    assert by_id["grad-quadratic-form"]["sympy"]["seconds"] > 0


def test_side_by_side_prints_every_figure_per_category():
    rows = _rows({"log-det", "grad-quadratic-form"})
    text = B.side_by_side(rows)
    lines = text.splitlines()
    assert "SymPy: derived" in lines[1] and "matderiv: derived" in lines[1]
    sbm = next(line for line in lines if line.startswith("scalar-by-matrix"))
    # matderiv: derived 100 %, correct 100 %; SymPy: derived 100 %, correct 0 %
    assert sbm.split("|")[1].split()[:2] == ["100.0%", "100.0%"]
    assert sbm.split("|")[2].split()[:2] == ["100.0%", "0.0%"]
    assert any(line.startswith("all") for line in lines)


def test_dependent_symbols_are_refused_by_the_sympy_bridge():
    dep = next(i for i in B.catalog_identities()
               if any(" of " in f" {d} " for d in i.symbols.values()))
    row = B._one(dep, False)
    assert row["sympy"]["status"] == "refused" and row["sympy"]["reason"]
