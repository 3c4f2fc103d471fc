"""The results of a run: the table, the targets of the issues, JSON.

Ratios are only ever taken between numbers measured in the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks._caller import CALLER_KEYS
from benchmarks._dpop import DPOP_KEYS
from benchmarks._load import LoadResult
from benchmarks._memory import MemoryResult
from benchmarks._timing import Measurement

__all__ = [
    "COLD_LIMIT",
    "DPOP_LIMIT",
    "REQUEST_KEYS",
    "REQUEST_PAIRS",
    "REQUEST_TARGETS",
    "RULES_LIMIT",
    "WARM_FACTOR",
    "Report",
    "Target",
    "format_text",
    "tables",
]

FLOOR, PYJWT = "raw_rs256", "pyjwt_decode"
#: the DPoP proof check, at most this many raw ES256 verifies of the proof
DPOP_LIMIT = 1.5
#: (protected case, its bare baseline) for the in-process request overheads.
REQUEST_PAIRS = (
    ("starlette_guarded", "starlette_bare"),
    ("starlette_route_scoped", "starlette_route_bare"),
    ("fastapi_m2m", "fastapi_header"),
    ("flask_wsgi_guarded", "flask_bare"),
    ("flask_extension", "flask_bare"),
    ("django_scoped", "django_bare"),
    ("drf_scoped", "drf_open"),
    ("aiohttp_guarded", "aiohttp_bare"),
    ("litestar_guarded", "litestar_bare"),
)
#: (protected case, its baseline, the largest accepted ratio, what is compared)
REQUEST_TARGETS = (
    ("starlette_guarded", "starlette_bare", 1.20,
     "ASGI middleware (warm token) <= 1.20x bare Starlette"),
    ("starlette_route_scoped", "starlette_route_bare", 1.10,
     "Starlette require_scopes route <= 1.10x a plain route behind the same middleware"),
    ("fastapi_m2m", "fastapi_header", 1.10,
     "FastAPI Security(M2MBearer, scopes) <= 1.10x a header-reading Security dependency"),
    ("flask_wsgi_guarded", "flask_bare", 1.10, "WSGI middleware <= 1.10x bare Flask"),
    ("flask_extension", "flask_bare", 1.10, "Flask require_scopes(scope) <= 1.10x bare Flask"),
    ("django_scoped", "django_bare", 1.10,
     "Django middleware + require_scopes(scope) <= 1.10x a bare Django view"),
    ("drf_scoped", "drf_open", 1.10,
     "DRF M2MAuthentication + HasScopes(scope) <= 1.10x an AllowAny APIView"),
    ("aiohttp_guarded", "aiohttp_bare", 1.20,
     "aiohttp m2m_middleware + require_scopes(scope) <= 1.20x bare aiohttp"),
    ("litestar_guarded", "litestar_bare", 1.20,
     "Litestar M2MGuardPlugin + require_scopes(scope) <= 1.20x bare Litestar"),
)  # fmt: skip
#: Cold verification may cost at most this multiple of the raw RS256 check.
COLD_LIMIT = 2.0
#: A warm verification must be at least this many times faster than PyJWT's decode.
WARM_FACTOR = 100.0
#: A pure custom check and a route audience may cost at most this on a warm token.
RULES_LIMIT = 1.2
REQUEST_KEYS = frozenset(key for pair in REQUEST_PAIRS for key in pair)


@dataclass(frozen=True)
class Target:
    """One target of the performance issue and how this run fared."""

    goal: str
    measured: str
    passed: bool | None  # None: could not be measured
    #: a stable name: the case it judges, or "cold", "warm", "memory"
    key: str = ""

    @property
    def verdict(self) -> str:
        """PASS, FAIL or n/a."""
        return "n/a" if self.passed is None else "PASS" if self.passed else "FAIL"


@dataclass
class Report:
    """Everything one run measured."""

    command: str
    settings: dict[str, Any]
    machine: dict[str, Any]
    measurements: list[Measurement]
    load: list[LoadResult] = field(default_factory=list)
    memory: MemoryResult | None = None
    notes: list[str] = field(default_factory=list)

    def us(self, key: str) -> float | None:
        """The median µs per operation of a case, if it ran."""
        for m in self.measurements:
            if m.key == key:
                return m.median_us
        return None

    def overhead(self, guarded: str, bare: str) -> tuple[float, float] | None:
        """(added µs, added fraction) of a protected app over its bare twin."""
        with_guard, without = self.us(guarded), self.us(bare)
        if with_guard is None or without is None:
            return None
        return with_guard - without, (with_guard - without) / without

    def targets(self) -> list[Target]:
        """The issues' targets, judged on this run's numbers."""
        raw, pyjwt = self.us(FLOOR), self.us(PYJWT)
        cold, warm = self.us("m2m_guard_cold"), self.us("m2m_guard_warm")
        per_token = self.memory.bytes_per_token if self.memory else None
        return [
            _ratio_target(
                "cold", f"cold verify <= {COLD_LIMIT:.1f}x raw cryptography RS256 verify",
                cold, raw, lambda r: r <= COLD_LIMIT, "{:.2f}x the floor",
            ),
            _ratio_target(
                "warm", f"warm verify >= {WARM_FACTOR:.0f}x faster than PyJWT jwt.decode",
                pyjwt, warm, lambda r: r >= WARM_FACTOR, "{:.1f}x faster",
            ),
            *(
                _overhead_target(guarded, goal, self.overhead(guarded, bare), limit - 1)
                for guarded, bare, limit, goal in REQUEST_TARGETS
            ),
            _ratio_target(
                "rules",
                f"warm guard, pure check + route audience <= {RULES_LIMIT:.1f}x a plain one",
                self.us("guard_warm_rules"), self.us("guard_warm_plain"),
                lambda r: r <= RULES_LIMIT, "{:.2f}x",
            ),
            _ratio_target(
                "dpop",
                f"DPoP proof check <= {DPOP_LIMIT:.1f}x one raw cryptography ES256 verify",
                self.us("dpop_proof_check"), self.us("dpop_raw_es256"),
                lambda r: r <= DPOP_LIMIT, "{:.2f}x",
            ),
            Target(
                "<= 2 KiB of memory per cached token",
                f"{per_token:.0f} B per token" if per_token is not None
                else (self.memory.note if self.memory else "not measured"),
                None if per_token is None else per_token <= 2048,
                "memory",
            ),
        ]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dump of the run, raw samples included."""
        return {
            "command": self.command,
            "settings": self.settings,
            "machine": self.machine,
            "measurements": [m.to_dict() for m in self.measurements],
            "load": [r.to_dict() for r in self.load],
            "memory": self.memory.to_dict() if self.memory else None,
            "targets": [t.__dict__ | {"verdict": t.verdict} for t in self.targets()],
            "notes": self.notes,
        }


def _ratio_target(
    key: str,
    goal: str,
    top: float | None,
    bottom: float | None,
    ok: Callable[[float], bool],
    shown: str,
) -> Target:
    if top is None or bottom is None:
        return Target(goal, "not measured", None, key)
    ratio = top / bottom
    return Target(goal, shown.format(ratio), ok(ratio), key)


def _overhead_target(
    key: str, goal: str, overhead: tuple[float, float] | None, limit: float
) -> Target:
    if overhead is None:
        return Target(goal, "not measured", None, key)
    added_us, fraction = overhead
    shown = f"{1 + fraction:.2f}x ({added_us:+.1f} µs)"
    return Target(goal, shown, fraction <= limit, key)


def _verification_rows(report: Report) -> list[list[str]]:
    raw, pyjwt = report.us(FLOOR), report.us(PYJWT)
    return [
        [m.label, f"{m.median_us:.2f}", f"{m.min_us:.2f}",
         f"{m.median_us / raw:.2f}x" if raw else "-",
         f"{m.median_us / pyjwt:.3f}x" if pyjwt else "-"]
        for m in report.measurements
        if m.key not in REQUEST_KEYS and m.key not in DPOP_KEYS and m.key not in CALLER_KEYS
    ]  # fmt: skip


def _caller_rows(report: Report) -> list[list[str]]:
    bearer = report.us("caller_bearer")
    return [
        [m.label, f"{m.median_us:.2f}", f"{m.min_us:.2f}",
         f"{m.median_us / bearer:.1f}x" if bearer else "-"]
        for m in report.measurements
        if m.key in CALLER_KEYS
    ]  # fmt: skip


def _dpop_rows(report: Report) -> list[list[str]]:
    raw, bearer = report.us("dpop_raw_es256"), report.us("guard_warm_bearer")
    return [
        [m.label, f"{m.median_us:.2f}", f"{m.min_us:.2f}",
         f"{m.median_us / raw:.2f}x" if raw else "-",
         f"{m.median_us / bearer:.1f}x" if bearer else "-"]
        for m in report.measurements
        if m.key in DPOP_KEYS
    ]  # fmt: skip


def _request_rows(report: Report) -> list[list[str]]:
    baselines = dict(REQUEST_PAIRS)
    rows = []
    for m in report.measurements:
        if m.key not in REQUEST_KEYS:
            continue
        overhead = report.overhead(m.key, baselines[m.key]) if m.key in baselines else None
        added = [f"{overhead[0]:+.2f}", f"{1 + overhead[1]:.2f}x"] if overhead else ["-", "-"]
        rows.append([m.label, f"{m.median_us:.2f}", f"{m.min_us:.2f}", *added])
    return rows


Table = tuple[str, list[str], list[list[str]]]


def tables(report: Report) -> list[Table]:
    """(title, header, rows) of the verification and the in-process request tables."""
    return [
        ("Token verification (RS256, 2048-bit key), µs per token",
         ["item", "median µs/op", "min µs/op", "vs raw RS256", "vs PyJWT decode"],
         _verification_rows(report)),
        ("In-process requests (warm token), µs per request",
         ["item", "median µs/op", "min µs/op", "added µs", "vs its baseline"],
         _request_rows(report)),
        ("DPoP (RFC 9449, ES256 proofs), µs per proof or request",
         ["item", "median µs/op", "min µs/op", "vs raw ES256", "vs warm bearer"],
         _dpop_rows(report)),
        ("Caller side (ClientCredentialsAuth, sync flow), µs per request",
         ["item", "median µs/op", "min µs/op", "vs bearer caller"],
         _caller_rows(report)),
    ]  # fmt: skip


def _aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def format_text(report: Report) -> str:
    """The human-readable report printed at the end of a run."""
    lines = []
    for title, header, rows in tables(report):
        lines += ["", title, *_aligned(header, rows)]
    if report.load:
        lines += ["", f"Load run over 127.0.0.1 ({report.load[0].tool}):"]
        for result in report.load:
            lines.append(f"  {result.label}: {result.rps:,.0f} req/s (errors: {result.errors})")
        if len(report.load) == 2 and report.load[0].rps:
            lines.append(f"  protected / bare: {report.load[1].rps / report.load[0].rps:.1%}")
    if report.memory is not None:
        per = report.memory.bytes_per_token
        shown = f"{per:.0f} B" if per is not None else report.memory.note
        lines += ["", f"Memory per cached token ({report.memory.tokens} tokens): {shown}"]
    lines += ["", "Targets (RS256, 2048-bit key, one run):"]
    lines += [f"  {t.verdict:<4}  {t.goal}: {t.measured}" for t in report.targets()]
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)
