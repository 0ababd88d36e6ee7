"""What checking one identity may cost, estimated before any work and enforced while it runs.

A file is untrusted: a Kronecker power of an 8×8 matrix, a tower of powers hidden behind
`tr()`, or sixty size names would each take the machine. Two guards:

- a static estimate, from the shapes at the sizes the check will use: the number of dual
  entries the exact check carries (entries of every intermediate times the directions
  of the variable) and the polynomial degree of the expression (which bounds the digits
  of exact rationals). Over a limit, the identity is refused (E210) before anything runs;
- a worker per identity with limits on CPU time, memory and wall time (`Budget`); a
  worker that exceeds one, or dies, leaves that identity `invalid` (E211) and every other
  identity its verdict.
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
import time
from dataclasses import dataclass
from multiprocessing import connection

import sympy
from matderiv.lang import expr as E
from matderiv.lang.shapes import ShapeEnv, infer, integer_exponent

MAX_SIZE_NAMES = 8
MAX_DUAL_OPERATIONS = 60_000_000  # about a minute of exact arithmetic
MAX_DUAL_ENTRIES = 5_000_000  # one intermediate array: about half a gigabyte
MAX_POLYNOMIAL_DEGREE = 4_096


@dataclass(frozen=True)
class Budget:
    """Limits for one identity's worker (the command's --cpu-seconds and friends)."""

    cpu_seconds: int = 20
    memory_mb: int = 2048
    wall_seconds: int = 180  # well above the CPU budget: a busy machine must not decide


NUMERIC_FACTOR = 50  # NumPy's float arithmetic is so much cheaper than exact duals
# format 1.2: a matrix function costs this many entry-sized passes per dual direction, from
# its argument's sizes (rows, columns): expm about 40 matrix products (a Taylor series and
# the squarings), logm that plus the n² × n² Jacobian of expm it solves with, pinv a Gram
# product, an inverse and a product
MATRIX_FUNCTION_COST = {
    "expm": lambda n, _: 40 * n,
    "logm": lambda n, _: 60 * n + n * n,
    "pinv": lambda r, c: 2 * max(r, c) + min(r, c),
}


def too_costly(prep, forms, assignments: list[dict], numeric: dict | None = None) -> str | None:
    """Why checking would cost too much, or None. Read from the trees and shapes alone:
    the exact check at `assignments`, the numeric check at `numeric`."""
    names = {s for d in prep.decls.values() for s in d.size_names}
    if len(names) > MAX_SIZE_NAMES:
        return f"{len(names)} size names (at most {MAX_SIZE_NAMES})"
    trees = [(prep.of, None)] + [(f.tree, f.name) for f in forms]
    degree = max(polynomial_degree(tree) for tree, _ in trees)
    if degree > MAX_POLYNOMIAL_DEGREE:
        return (f"powers nest to a polynomial degree of {degree} (at most "
                f"{MAX_POLYNOMIAL_DEGREE})")
    checks = [(sizes, 1) for sizes in assignments]
    checks += [(numeric, NUMERIC_FACTOR)] if numeric is not None else []
    for sizes, factor in checks:
        operations, largest = dual_entries(prep, trees, sizes)
        operations, largest = operations // factor, largest // factor
        shown = ", ".join(f"{k}={v}" for k, v in sizes.items()) or "as declared"
        if largest > MAX_DUAL_ENTRIES:
            return (f"an intermediate array of about {largest:,} exact dual entries at sizes "
                    f"{shown} (at most {MAX_DUAL_ENTRIES:,})")
        if operations > MAX_DUAL_OPERATIONS:
            return (f"about {operations:,} exact dual operations at sizes {shown} (at most "
                    f"{MAX_DUAL_OPERATIONS:,})")
    return None


def dual_entries(prep, trees, sizes: dict) -> tuple[int, int]:
    """(operations, largest array), in dual entries: entries of every intermediate array
    times the variable's directions (plus one); for operations a matrix product counts
    once per inner index, a power once per factor, an inverse or determinant once per
    row."""
    subs = {sympy.Symbol(n, positive=True, integer=True): v for n, v in sizes.items()}
    shapes: dict = {}

    def value(size) -> int:
        return int((sympy.Integer(1) * size).subs(subs))

    def count(shape) -> int:
        return value(shape[0]) * value(shape[1])

    def visit(node, shape):
        shapes[id(node)] = shape
        repeat = 1
        if isinstance(node, E.Bin) and node.op == "**":
            repeat = abs(integer_exponent(node.right) or 1)
        elif isinstance(node, E.Call) and node.fn in ("inv", "det"):
            repeat = value(shapes[id(node.args[0])][0])
        elif isinstance(node, E.Call) and node.fn in MATRIX_FUNCTION_COST:
            n = value(shapes[id(node.args[0])][0])
            repeat = MATRIX_FUNCTION_COST[node.fn](n, value(shapes[id(node.args[0])][1]))
        elif isinstance(node, E.Bin) and node.op == "*":
            left, right = shapes[id(node.left)], shapes[id(node.right)]
            if left[1] == right[0]:  # a matrix product: one sum per inner index
                repeat = value(left[1])
        totals.append(count(shape) * repeat)
        largest.append(count(shape))

    totals: list[int] = []
    largest: list[int] = []
    for tree, layout in trees:
        infer(tree, ShapeEnv(prep.decls, prep.identity.wrt, layout, visit=visit))
    directions = count(prep.wrt.shape) + 1
    return sum(totals) * directions, max(largest) * directions


def polynomial_degree(node) -> int:
    """An upper bound on the degree of the entries as polynomials in the symbols' entries:
    products add, integer powers multiply (so towers hidden behind tr() or 1* count)."""
    return _PolynomialDegree().visit(node)


class _PolynomialDegree(E.Visitor):
    def _Sym(self, node) -> int:
        return 1

    _Differential = _DiffOf = _Sym

    def _Num(self, node) -> int:
        return 0

    _Size = _Const = _Num

    def _Neg(self, node) -> int:
        return self.visit(node.arg)

    _Transpose = _Apply = _Neg

    def _Bin(self, node) -> int:
        left, right = self.visit(node.left), self.visit(node.right)
        if node.op in "+-":
            return max(left, right)
        if node.op in "*/":
            return left + right
        k = integer_exponent(node.right)
        return left * (abs(k) if k is not None else 1) + right

    def _Call(self, node) -> int:
        degrees = [self.visit(a) for a in node.args]
        if node.fn == "hadamard_pow":
            k = integer_exponent(node.args[1])
            return degrees[0] * (abs(k) if k is not None else 1) + degrees[1]
        if node.fn in ("kron", "hadamard", "hadamard_div"):
            return sum(degrees)
        return max(degrees + [0])


# ---------------------------------------------------------------- workers


def run_in_workers(function, items: list, budget: Budget, jobs: int):
    """Yield (index, kind, payload) per item, each computed by `function` in a forked worker
    of its own under `budget`: kind "ok" with the result, or "limit" / "error" with the
    reason in words. A worker that dies takes nothing else with it."""
    context = multiprocessing.get_context("fork")
    pending = list(range(len(items)))
    running: dict = {}  # receiving end -> (index, process, start time)
    while pending or running:
        while pending and len(running) < max(jobs, 1):
            index = pending.pop(0)
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(function, items[index], budget,
                                                           send), daemon=True)
            process.start()
            send.close()
            running[receive] = (index, process, time.monotonic())
        for receive in connection.wait(list(running), timeout=0.5):
            index, process, _ = running.pop(receive)
            yield (index, *_collect(receive, process))
        now = time.monotonic()
        for receive, (index, process, started) in list(running.items()):
            if now - started > budget.wall_seconds:
                process.kill()
                process.join()
                del running[receive]
                receive.close()
                yield index, "limit", f"more than {budget.wall_seconds} s of wall time"


def _collect(receive, process) -> tuple[str, object]:
    try:
        kind, payload = receive.recv()
    except (EOFError, OSError):
        process.join()
        kind, payload = _death(process.exitcode)
    receive.close()
    process.join()
    return kind, payload


def _death(exitcode) -> tuple[str, str]:
    if exitcode == -signal.SIGXCPU:
        return "limit", "more CPU time than its budget"
    if exitcode in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV):
        return "limit", "more memory than its budget (the worker was stopped)"
    return "error", f"the worker stopped (exit status {exitcode})"


def _out_of_memory(exc: BaseException | None) -> bool:
    """A MemoryError anywhere in the chain (an import that failed for want of memory)."""
    seen = 0
    while exc is not None and seen < 20:
        text = str(exc).lower()
        if isinstance(exc, MemoryError) or "memory" in text or "failed to map" in text:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _address_space() -> int:
    """The worker's address space when it starts (the interpreter and the libraries
    already loaded, inherited from the parent)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _child(function, item, budget: Budget, send) -> None:
    """Inside the worker: set the limits, compute, send the result or the reason."""
    resource.setrlimit(resource.RLIMIT_CPU, (budget.cpu_seconds, budget.cpu_seconds + 1))
    memory = _address_space() + budget.memory_mb * 2**20  # the budget is what it may add
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        send.send(("ok", function(item)))
    except MemoryError:
        send.send(("limit", f"more than {budget.memory_mb} MB of memory"))
    except RecursionError:
        send.send(("limit", "an expression nested too deeply to walk"))
    except Exception as exc:  # noqa: BLE001 - any failure of one identity is reported as data
        if _out_of_memory(exc):
            send.send(("limit", f"more than {budget.memory_mb} MB of memory"))
        else:
            send.send(("error", f"internal error {type(exc).__name__}"))
    finally:
        send.close()
