"""One ingest run: validate each file, check it against the store, write it, keep the summary.

Every refusal is attributed to the input it came from (``line N`` or a path) and reported in
input order. Checks that can fail for one file — its region, its RSEs, its dataset, its
checksums against the stored registration — are made per file before anything is written,
so a refused file never leaves half of itself behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from catalogue import embargo
from catalogue.ingest import Candidate, Rejected, prepare
from catalogue.models import DIDKey, DIDType, RunSummary
from catalogue.store import dids, files, harvest, rses, search_docs
from catalogue.store.engine import refresh_statistics
from catalogue.store.extents import Contribution, combine, summary_values

Accepted = tuple[Candidate, files.PreparedFile]
_FIRST_ANALYSE = 1000


@dataclass(slots=True)
class Registration:
    """The state of one run over one session; the caller owns the transactions."""

    session: AsyncSession
    moc_order: int
    index_cells: int
    track_outcomes: bool = False
    #: Whether the caller may write a DID scope (catalogue/authorization.py); None: any.
    may_write: Callable[[str], bool] | None = None
    summary: RunSummary = field(default_factory=RunSummary)
    _analysed_at: int = 0

    def __post_init__(self) -> None:
        if self.track_outcomes:
            self.summary.outcomes = {}

    def refuse(self, where: str, reason: str) -> None:
        """Count and report one refused input."""
        self.summary.failed += 1
        self.summary.problems.append((where, reason))

    async def add_batch(self, batch: list[Candidate | Rejected], *, write: bool) -> None:
        """Check a batch and, when ``write``, register what passes."""
        first_problem = len(self.summary.problems)
        candidates: list[Candidate] = []
        for item in batch:
            if isinstance(item, Rejected):
                self.refuse(item.where, item.reason)
            else:
                candidates.append(item)
        accepted: list[Accepted] = []
        for candidate, result in zip(candidates, prepare(candidates, self.moc_order), strict=True):
            if isinstance(result, Rejected):
                self.refuse(result.where, result.reason)
            else:
                accepted.append((candidate, result))
        accepted = await self._check_scopes(accepted)
        accepted, rses = await self._check_rses(accepted)
        accepted = await self._check_datasets(accepted)
        if accepted:
            await self._register(accepted, rses, write=write)
        # Batches come in input order; within one, problems are found check by check.
        position = {item.where: i for i, item in enumerate(batch)}
        self.summary.problems[first_problem:] = sorted(
            self.summary.problems[first_problem:], key=lambda p: position.get(p[0], len(batch))
        )
        written = self.summary.registered
        if written >= max(2 * self._analysed_at, _FIRST_ANALYSE):
            await refresh_statistics(self.session)  # at doublings: log(n) times in a run
            self._analysed_at = written

    async def finish(self) -> RunSummary:
        """The summary, its problems in input order; statistics refreshed for what was written."""
        if self.summary.registered:
            await refresh_statistics(self.session)
        return self.summary

    async def _check_scopes(self, accepted: list[Accepted]) -> list[Accepted]:
        """Files the caller may write, outside harvest sources' scopes (theirs alone)."""
        scopes = {p.spec.key.scope for _, p in accepted}
        scopes |= {c.dataset.scope for c, _ in accepted if c.dataset is not None}
        taken = await harvest.harvested_scopes(self.session, scopes)
        denied = {s for s in scopes if self.may_write is not None and not self.may_write(s)}
        if not taken and not denied:
            return accepted
        usable: list[Accepted] = []
        for candidate, item in accepted:
            wanted = {item.spec.key.scope}
            if candidate.dataset is not None:
                wanted.add(candidate.dataset.scope)
            if wanted & denied:
                self.refuse(candidate.where, f"no write permission in scope {min(wanted & denied)}")
            elif wanted & taken:
                self.refuse(candidate.where, harvest.harvested_scope_problem(min(wanted & taken)))
            else:
                usable.append((candidate, item))
        return usable

    async def _check_rses(
        self, accepted: list[Accepted]
    ) -> tuple[list[Accepted], dict[str, tuple[int, str]]]:
        names = {r.rse for _, p in accepted for r in p.spec.replicas}
        found = await rses.find_rses(self.session, names)
        problems = {name: rses.rse_problem(name, found.get(name)) for name in names}
        usable: list[Accepted] = []
        for candidate, item in accepted:
            refused = [problems[r.rse] for r in item.spec.replicas if problems[r.rse]]
            if refused:
                self.refuse(candidate.where, str(refused[0]))
            else:
                usable.append((candidate, item))
        return usable, {name: (rse_id, url) for name, (rse_id, url, _) in found.items()}

    async def _check_datasets(self, accepted: list[Accepted]) -> list[Accepted]:
        keys = {c.dataset for c, _ in accepted if c.dataset is not None}
        rows = await files.find_dids(self.session, sorted(keys))
        problems = {key: dids.dataset_problem(key, rows.get(key)) for key in keys}
        usable: list[Accepted] = []
        for candidate, item in accepted:
            problem = problems.get(candidate.dataset) if candidate.dataset else None
            if problem:
                self.refuse(candidate.where, problem)
            else:
                usable.append((candidate, item))
        return usable

    async def _register(
        self, accepted: list[Accepted], rses: dict[str, tuple[int, str]], *, write: bool
    ) -> None:
        now = datetime.now(UTC)
        outcomes = await files.add_files(
            self.session, [p for _, p in accepted], rses, now, self.index_cells, write=write
        )
        members: dict[DIDKey, list[tuple[int, files.PreparedFile | None]]] = {}
        for (candidate, item), outcome in zip(accepted, outcomes, strict=True):
            if outcome.outcome is files.Outcome.CONFLICT:
                self.refuse(candidate.where, outcome.message)
                continue
            if self.summary.outcomes is not None:
                self.summary.outcomes[candidate.where] = outcome.outcome.value
            if outcome.outcome is files.Outcome.REGISTERED:
                self.summary.registered += 1
                if item.coverage is None:
                    self.summary.without_coverage.append(str(item.spec.key))
            else:
                self.summary.unchanged += 1
            if write and candidate.dataset is not None and outcome.did_id is not None:
                # A file registered before is known by what is stored, not by this record.
                fresh = item if outcome.outcome is files.Outcome.REGISTERED else None
                members.setdefault(candidate.dataset, []).append((outcome.did_id, fresh))
        grown = [await self._attach(key, group, now) for key, group in members.items()]
        if write:  # once per batch, in bulk: the files (an unchanged one may have new
            # replicas or a new dataset), and the collections whose extents grew
            changed = {
                o.did_id
                for o in outcomes
                if o.did_id is not None and o.outcome is not files.Outcome.CONFLICT
            }
            changed |= await search_docs.with_ancestors(
                self.session, [i for i in grown if i is not None]
            )
            await search_docs.mark_changed(self.session, changed)

    async def _attach(
        self, key: DIDKey, group: list[tuple[int, files.PreparedFile | None]], now: datetime
    ) -> int | None:
        """Attach files to their dataset; the dataset's id when it was created or grew.

        New files' contribution to the extent comes from their records; when some were
        registered before, the whole group's is read from the store (``None``).
        """
        _, created = await dids.add_collection(self.session, key, DIDType.DATASET, {}, now)
        parent = await dids.require_did(self.session, key)
        fresh = [item for _, item in group if item is not None]
        contribution = (
            combine([_contribution(i) for i in fresh]) if len(fresh) == len(group) else None
        )
        added = await dids.attach_ids(
            self.session, parent, [i for i, _ in group], now, self.index_cells, contribution
        )
        return parent["id"] if created or added else None


def _contribution(item: files.PreparedFile) -> Contribution:
    char = item.characterisation
    return Contribution(
        item.coverage,
        char.get("t_min"),
        char.get("t_max"),
        char.get("em_min"),
        char.get("em_max"),
        summary_values(char),
        embargo.of_file(char, item.spec.key.scope),
    )
