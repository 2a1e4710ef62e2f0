"""Plain-text report of a fuzz run: status codes per method, failure groups with causes, slow calls."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import grpc

from tests.fuzz.runner import SLOW_SECONDS, Outcome, Results
from tests.fuzz.stalls import STALL_SECONDS

SHORT = {
    "INVALID_ARGUMENT": "INVALID",
    "FAILED_PRECONDITION": "PRECOND",
    "ALREADY_EXISTS": "EXISTS",
    "RESOURCE_EXHAUSTED": "EXHAUSTED",
    "PERMISSION_DENIED": "DENIED",
    "UNAUTHENTICATED": "UNAUTH",
    "DEADLINE_EXCEEDED": "DEADLINE",
}
_CODE_ORDER = [code.name for code in grpc.StatusCode]


def normalize(text: str) -> str:
    """Messages that differ only by ids, numbers, paths or message types group together."""
    text = re.sub(r"'skylane\.[\w.]+'", "<type>", text)
    text = re.sub(r"\bfz\w*|\b[0-9a-f]{12,}\b", "<id>", text)
    text = re.sub(r"-?\d+", "N", text)
    return text[:200]


def code_table(results: Results) -> str:
    present = {code for counts in results.codes.values() for code in counts}
    columns = [code for code in _CODE_ORDER if code in present]
    width = max((len(label) for label in results.codes), default=10)
    header = (
        f"{'method':<{width}} {'calls':>6} "
        + " ".join(f"{SHORT.get(c, c):>9}" for c in columns)
        + f" {'p99 ms':>7} {'max ms':>7}"
    )
    lines = [header, "-" * len(header)]
    for label in sorted(results.codes):
        counts = results.codes[label]
        cells = " ".join(f"{counts.get(c, 0) or '':>9}" for c in columns)
        p99, top = percentile(results.latencies.get(label, []), 0.99), max(results.latencies.get(label, [0.0]))
        lines.append(f"{label:<{width}} {sum(counts.values()):>6} {cells} {p99 * 1000:>7.0f} {top * 1000:>7.0f}")
    return "\n".join(lines)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def failure_groups(results: Results) -> str:
    """One paragraph per (code, server-side cause): how many, which mutations, which methods and fields."""
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for outcome in results.failures:
        cause = results.causes.get(outcome.request_id, "")
        groups[(outcome.code, normalize(cause or outcome.details))].append(outcome)
    lines = []
    for (code, _cause), outcomes in sorted(groups.items(), key=lambda item: -len(item[1])):
        mutations = Counter(o.mutation for o in outcomes)
        where = sorted({f"{o.method}({o.where})" if o.where else o.method for o in outcomes})
        first = results.causes.get(outcomes[0].request_id, "") or outcomes[0].details
        first = re.sub(r"'skylane\.[\w.]+'", "<type>", first)
        lines.append(f"[{code}] x{len(outcomes)} {first[:240] or '(no server log)'}")
        lines.append("    mutations: " + ", ".join(f"{name} x{n}" for name, n in mutations.most_common()))
        lines.append(f"    methods ({len(where)}): " + ", ".join(where[:10]) + (" ..." if len(where) > 10 else ""))
    return "\n".join(lines)


def slow_table(results: Results) -> str:
    lines = []
    for outcome in sorted(results.slowest, reverse=True):
        mark = " SLOW" if outcome.seconds > SLOW_SECONDS else ""
        target = f"{outcome.mutation}@{outcome.where}" if outcome.where else outcome.mutation
        blame = results.stalls.blocking(outcome.started, outcome.started + outcome.seconds)
        lines.append(
            f"{outcome.seconds:7.3f}s{mark} {outcome.method} {target} -> {outcome.code} ({outcome.size:,} bytes)"
            + (f"\n          waited on a stalled loop: {blame}" if blame else "")
        )
    return "\n".join(lines)


def stalled_count(results: Results) -> int:
    return sum(1 for o in results.slow if results.stalls.blocking(o.started, o.started + o.seconds))


def stall_table(results: Results) -> str:
    lines = [
        f"  x{n:<5} total {total:6.2f}s  longest {top:5.2f}s  cpu {cpu:4.0%}  {where}"
        for where, n, total, top, cpu in results.stalls.summary()[:12]
    ]
    return "\n".join(lines)


def grpc_error_lines(results: Results) -> list[str]:
    lines = (re.sub(r"\[/[\w./]+\]", "[<method>]", normalize(line)) for line in results.grpc_errors)
    counted: Counter[str] = Counter(lines)
    return [f"  x{n} {line}" for line, n in counted.most_common(10)]


def render(results: Results) -> str:
    rate = results.calls / results.elapsed if results.elapsed else 0.0
    parts = [
        f"engine={results.engine} seed={results.seed} calls={results.calls:,} methods={len(results.codes)} "
        f"in {results.elapsed:.1f}s ({rate:,.0f}/s)",
        "",
        code_table(results),
        "",
        f"INTERNAL/UNKNOWN: {len(results.failures)}  slow (> {SLOW_SECONDS:g}s): {len(results.slow)}"
        f" ({stalled_count(results)} of them overlapping an event-loop stall)  "
        f"health failures: {len(results.unhealthy)}  crashed: {', '.join(results.crashed) or 'none'}",
    ]
    if results.failures:
        parts += ["", "Failure groups (code, mutation, server-side cause):", failure_groups(results)]
    if results.unhealthy:
        parts += ["", "Health failures:", *results.unhealthy[:20]]
    if results.grpc_errors:
        parts += ["", "Errors grpc logged itself (no request id):", *grpc_error_lines(results)]
    if results.stalls.stalls:
        title = f"Event-loop stalls (> {STALL_SECONDS:g}s; client and servers share the loop):"
        parts += ["", title, stall_table(results)]
    parts += ["", "Slowest calls:", slow_table(results)]
    return "\n".join(parts)
