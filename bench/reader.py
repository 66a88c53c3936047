"""The benchmarks' authenticated caller (``--auth``): a token of a reader of ctao's embargoes.

bench/graphql.py and bench/tap.py time each request kind anonymously and with this token at
the same positions, so the difference is what validation (keys cached) and the embargo rule's
scoped branch cost per request (docs/security.md, "Cost"). An administrator's token would skip
the rule, hence a reader.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

AUTH_MODES = ("off", "on", "both")
READER_SUBJECT = "bench-reader"
READER_SCOPE = "ctao"  # the token reads this scope's embargoed records
TOKEN_SCOPES = [f"lake.read:/{READER_SCOPE}"]
TOKEN_LIFETIME = 3600
AUTH_GOAL_MS = 1.0  # what a token may add to a request (p50)


def reader_settings(url: str, keys: Path | None) -> tuple[Any, dict[str, str]]:
    """Service settings and the request header: anonymous without ``keys``; else the service
    trusts the local issuer, whose key is made in ``keys``, and the token is minted once."""
    from catalogue.config import Settings  # noqa: PLC0415 - the code snapshot's
    from schema.local_issuer import mint  # noqa: PLC0415

    if keys is None:
        return Settings(database_url=url), {}
    settings = Settings(database_url=url, data_dir=keys, auth_local_issuer=True)
    token = mint(settings, READER_SUBJECT, scopes=TOKEN_SCOPES, lifetime=TOKEN_LIFETIME)
    return settings, {"Authorization": f"Bearer {token}"}


def reader_viewer(on: bool) -> Any:
    """What the token's caller may see, for the sides that skip HTTP; the public otherwise."""
    from catalogue.authorization import PUBLIC, Viewer  # noqa: PLC0415

    return Viewer(scopes=frozenset({READER_SCOPE})) if on else PUBLIC


def report_pairs(
    rows: Sequence[tuple[str, list[float], list[float]]],
    percentile: Callable[[list[float], float], float],
    anonymous: str = "anon",
) -> None:
    """(label, anonymous ms, token ms) per kind: p50/p95 of each, the difference of the p50s
    (the goal's figure) and the median of the paired differences."""
    if not rows:
        return
    width = max(36, *(len(label) + 2 for label, _, _ in rows))
    print(
        f"\nwith a token (keys cached; {' '.join(TOKEN_SCOPES)}): validation + embargo rule "
        "cost per request"
    )
    print(
        f"{'query':<{width}} {'anon p50':>9} {'anon p95':>9} {'token p50':>9} {'token p95':>9} "
        f"{'p50 diff':>9} {'paired':>9}"
    )
    for label, anon, token in rows:
        added = percentile(token, 0.5) - percentile(anon, 0.5)
        paired = statistics.median(t - a for t, a in zip(token, anon, strict=True))
        verdict = "meets" if added < AUTH_GOAL_MS else "MISSES"
        print(
            f"{label:<{width}} {percentile(anon, 0.5):>9.2f} {percentile(anon, 0.95):>9.2f} "
            f"{percentile(token, 0.5):>9.2f} {percentile(token, 0.95):>9.2f} {added:>+9.2f} "
            f"{paired:>+9.2f}  goal < {AUTH_GOAL_MS:g} ms {verdict}"
        )
    print(
        f"  ms; p50 diff = token p50 - {anonymous} p50 (the goal's figure); paired = median of "
        f"token - {anonymous} at the same position"
    )
