"""What every ``lakecat`` command shares: the consoles, running a unit of work, a progress bar."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from catalogue.config import Settings
from catalogue.errors import CatalogueError, InvalidInputError
from catalogue.service import Catalogue, open_catalogue

T = TypeVar("T")
err = Console(stderr=True, soft_wrap=True, highlight=False)
out = Console(soft_wrap=True, highlight=False, markup=False)


def run_work(settings: Settings, work: Callable[[Catalogue], Awaitable[T]]) -> T:
    """Run one unit of work against the configured store; catalogue errors exit cleanly."""

    async def main() -> T:
        async with open_catalogue(settings) as catalogue:
            return await work(catalogue)

    try:
        return asyncio.run(main())
    except InvalidInputError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(2)
    except CatalogueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(1)


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal (nothing when piped); yields the advance function."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.speed:>8.0f}/s" if total else ""),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False, disable=not err.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
