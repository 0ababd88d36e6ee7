__version__ = "0.1.0"

import sys

# Expressions may nest expr.MAX_DEPTH (500) deep and every walk over them recurses.
if sys.getrecursionlimit() < 10_000:
    sys.setrecursionlimit(10_000)
