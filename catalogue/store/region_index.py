"""Candidate DIDs for a sky region, from the ``coverage_cell`` B-tree, on either engine.

Each DID's MOC is indexed as aligned HEALPix cells written as depth-29 ranges ``[lo, hi)``.
A stored cell overlaps a query range ``[a, b)`` exactly when it starts inside it
(``a <= lo < b``: a range scan) or it contains ``a`` (then it is the cell of ``a`` at its own
order, so ``lo`` is ``a`` rounded down at some order: an equality lookup). Both are B-tree
probes on ``lo``; the query MOC is degraded to at most :data:`MAX_QUERY_RANGES` ranges first,
so candidates are a superset that the stored MOCs then decide (docs/decisions/0001-coverage.md).
"""

from __future__ import annotations

from sqlalchemy import Select, and_, or_, select

from catalogue.coverage import MAX_ORDER, Coverage
from catalogue.store import tables as t

MAX_QUERY_RANGES = 48


def _probe_ranges(query: Coverage) -> Coverage:
    cov = query
    while len(cov.ranges) > MAX_QUERY_RANGES and cov.order > 0:
        cov = cov.degrade(cov.order - 1)
    return cov


def _containing_starts(starts: list[int], max_order: int) -> list[int]:
    """Starts of the cells, at orders 0..max_order, that contain each start strictly."""
    found: set[int] = set()
    for start in starts:
        for order in range(max_order + 1):
            shift = 2 * (MAX_ORDER - order)
            floor = (start >> shift) << shift
            if floor < start:
                found.add(floor)
    return sorted(found)


def candidate_ids(query: Coverage, max_order: int = MAX_ORDER) -> Select[tuple[int]]:
    """A subquery of DID ids whose index cells overlap the (degraded) query MOC."""
    probe = _probe_ranges(query)
    pairs = [(int(lo), int(hi)) for lo, hi in probe.ranges.tolist()]
    lo = t.coverage_cell.c.lo
    clauses = [and_(lo >= a, lo < b) for a, b in pairs]
    floors = _containing_starts([a for a, _ in pairs], max_order)
    if floors:
        clauses.append(and_(lo.in_(floors), t.coverage_cell.c.hi > pairs[0][0]))
    return select(t.coverage_cell.c.did_id).where(or_(*clauses))
