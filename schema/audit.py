"""The audit log in GraphQL: who changed what and when (administrators only)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from schema.context import Context
from schema.inputs import input_error

MAX_EVENTS = 1000


@strawberry.type(description="One write: when, by whom (the token's subject), what, on which.")
class AuditEvent:
    at: datetime
    subject: str
    action: str
    target: str


@strawberry.type
class AuditQueries:
    @strawberry.field(description="Writes, newest first; needs lake.admin.")
    async def audit_log(
        self,
        info: Info[Context, None],
        subject: str | None = None,
        since: datetime | None = None,
        first: int = 100,
    ) -> list[AuditEvent]:
        if not 0 <= first <= MAX_EVENTS:
            raise input_error("first", f"must be between 0 and {MAX_EVENTS}")
        found = await info.context.catalogue.audit_log(
            caller=info.context.caller, subject=subject, since=since, limit=first
        )
        return [
            AuditEvent(at=e.at, subject=e.subject, action=e.action, target=e.target) for e in found
        ]
