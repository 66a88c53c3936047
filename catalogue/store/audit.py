"""The audit log: who changed what and when, one row per write (docs/security.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.store import tables as t


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One write: when, by whom (the token's subject), what, and on which DID or RSE."""

    id: int
    at: datetime
    subject: str
    action: str
    target: str


async def record(
    session: AsyncSession, subject: str, action: str, target: str, at: datetime
) -> None:
    """Add a row, in the caller's (the write's) transaction."""
    await session.execute(
        insert(t.audit_event).values(at=at, subject=subject, action=action, target=target)
    )


async def events(
    session: AsyncSession,
    *,
    subject: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """The newest events first, of one subject or all, since an instant or ever."""
    e = t.audit_event.c
    query = select(t.audit_event).order_by(e.at.desc(), e.id.desc()).limit(limit)
    if subject is not None:
        query = query.where(e.subject == subject)
    if since is not None:
        query = query.where(e.at >= since)
    rows = (await session.execute(query)).mappings()
    return [AuditEvent(r["id"], r["at"], r["subject"], r["action"], r["target"]) for r in rows]
