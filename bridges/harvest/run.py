"""Drive a harvest: a reader yields chunks from a remote, the catalogue commits each one.

Readers are synchronous (pyvo and requests are); the next chunk is fetched in a thread
while the current one is written, so a harvest costs about the larger of the two, not
their sum.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from bridges.harvest.errors import RemoteError, describe
from catalogue.harvest import HarvestedRecord, HarvestRun, RecordProblem, SourceSpec
from catalogue.models import LOCAL_OPERATOR, Caller
from catalogue.service import Catalogue


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records read in one request, and the remote key to continue after (if any)."""

    records: Sequence[HarvestedRecord | RecordProblem]
    resume_after: str | None = None


class Reader(Protocol):
    """A remote source read chunk by chunk."""

    spec: SourceSpec

    def chunks(self, resume_after: str | None) -> Iterator[Chunk]:
        """The source's records, after ``resume_after`` when a failed run is continued.

        Raises :class:`RemoteError` when the remote fails; sets :attr:`complete` when the
        source was read to its end (not cut short by a record limit).
        """
        ...

    @property
    def complete(self) -> bool:
        """Whether the last :meth:`chunks` read the whole source."""
        ...


def _next(iterator: Iterator[Chunk]) -> Chunk | None:
    return next(iterator, None)


async def run_harvest(
    catalogue: Catalogue,
    reader: Reader,
    *,
    caller: Caller = LOCAL_OPERATOR,
    resume: bool = True,
    progress: Callable[[int], None] | None = None,
) -> HarvestRun:
    """One run of the reader's source, recorded; a remote failure ends it FAILED, resumable."""
    harvest = await catalogue.start_harvest(reader.spec, caller=caller, resume=resume)
    iterator = reader.chunks(harvest.resume_after)
    pending = asyncio.create_task(asyncio.to_thread(_next, iterator))
    try:
        while (chunk := await pending) is not None:
            pending = asyncio.create_task(asyncio.to_thread(_next, iterator))
            await harvest.add(chunk.records, resume_after=chunk.resume_after)
            if progress is not None:
                progress(len(chunk.records))
    except RemoteError as exc:
        return await harvest.fail(str(exc))
    except Exception as exc:
        if not pending.done():
            pending.cancel()
        await harvest.fail(str(describe(reader.spec.url, exc)))
        raise
    return await harvest.finish(complete=reader.complete)
