"""The benchmark (`make bench`): prints figures, asserts nothing.

Seconds to verify the whole catalog cold (empty cache) and warm, the slowest
identities, and the build time of the PDFs (`python -m matderiv.commands.bench_site` times
the site).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from matderiv.catalog.load import load_all
from matderiv.check.verify import verify_all
from matderiv.pipeline.build import CATALOG, document


def _verify(cache: Path, jobs: int):
    """(identities, verdicts, wall seconds, CPU seconds of the workers)."""
    os.environ["MATDERIV_CACHE"] = str(cache)
    identities, _ = load_all([CATALOG])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    verdicts = verify_all(identities, jobs)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return identities, verdicts, wall, cpu


def main() -> int:
    jobs = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="matderiv-bench-") as tmp:
        identities, verdicts, cold, cpu = _verify(Path(tmp), jobs)
        _, _, warm, _ = _verify(Path(tmp), jobs)
        print(f"identities           {len(identities)}")
        print(f"verify cold          {cold:6.1f} s  ({jobs} processes, empty cache; "
              "target <= 30 s on 2 cores)")
        print(f"  workers' CPU       {cpu:6.1f} s  (user + system of every worker: steadier "
              "than the wall clock on a shared machine)")
        print(f"verify warm          {warm:6.1f} s  (every verdict cached; target <= 1 s)")
        guarantees = Counter(v.guarantee or v.status for v in verdicts)
        print("guarantees           " + ", ".join(f"{n} {g}" for g, n in sorted(
            guarantees.items())))
        print("slowest identities (seconds, cold, one worker each; degree bound, guarantee):")
        for verdict in sorted(verdicts, key=lambda v: -v.seconds)[:10]:
            print(f"  {verdict.seconds:6.2f}  {verdict.id}  (bound {verdict.bound}"
                  f"{', capped' if verdict.capped else ''}, {verdict.guarantee or '-'})")
        doc = document(identities, verdicts)
        out = Path(tmp) / "out"
        if "--no-render" not in sys.argv:
            _render(doc, out)
    return 0


def _render(doc: dict, out: Path) -> None:
    """The PDFs; the site's build and page timings are matderiv.commands.bench_site's."""
    from matderiv.render.pdf import build_pdfs

    timings: dict = {}
    started = time.perf_counter()
    build_pdfs(doc, out / "pdf", timings)
    print(f"PDF build (4 sheets) {time.perf_counter() - started:6.1f} s")
    for name, seconds in sorted(timings.items()):
        print(f"  {seconds:6.1f}  {name}")


if __name__ == "__main__":
    sys.exit(main())
