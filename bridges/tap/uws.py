"""UWS 1.1 async jobs of the TAP service (TAP 1.1 §2.2.2 ``/async``): routes and the runner.

The routes (``async_routes``) are mounted by the TAP app under ``/tap/async``; jobs are
stored by ``catalogue.store.jobs``, so they survive a restart and every process sees them.
``JobRunner`` runs queued jobs in a bounded pool of asyncio tasks in this process and reaps
jobs past their destruction time.

The XML is written with ``xml.etree`` rather than vo-models: the documents are five small
element trees, and one escaping writer here costs less than pydantic-xml and a model per
document; pyvo's own parser reads them back in the tests.

This module is longer than the house target (about 690 lines) because the runner, the XML
documents and the HTTP resources of one standard arrived together; it splits along those
three nouns (``uws_xml``: the documents; the runner; the routes) once anything else needs
one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridges.caller import caller_of
from bridges.tap.errors import TapError
from bridges.tap.formats import VOTABLE_MIME, error_document
from bridges.tap.params import TapRequest, read_request
from catalogue.authorization import PUBLIC, Viewer
from catalogue.models import Caller
from catalogue.store import jobs
from catalogue.store.jobs import ACTIVE_PHASES, JobRecord, Parameters, Phase

logger = logging.getLogger(__name__)

Execute = Callable[[JobRecord, dict[str, bytes]], Awaitable[tuple[bytes, str]]]

UWS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_TYPE = "application/xml"

#: Longest blocking WAIT (UWS 1.1 §2.2.1.2) in seconds; WAIT=-1 means this long.
MAX_WAIT = 60.0
#: How often a waiting request re-reads the store, to see other processes' changes.
POLL_INTERVAL = 0.5
#: How often the reaper runs, in seconds.
REAP_INTERVAL = 5.0
#: How long past its limit a job executing in no live process is left before it is failed.
OVERDUE_GRACE = timedelta(seconds=30)
#: Where a job may still be told to run.
_RUNNABLE = frozenset({Phase.PENDING, Phase.HELD})
_INTERRUPTED = "interrupted by a service restart"
_INTERNAL = "internal error while running the query; the service log has the details"


class UwsError(TapError):
    """A UWS request that cannot be honoured; answered in plain text."""


class JobNotFoundError(UwsError):
    """No job has that id (it may have been destroyed)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r}; it may have been destroyed", status=404)


def _now() -> datetime:
    return datetime.now(UTC)


class JobRunner:
    """Runs queued jobs, at most ``workers`` at once, and destroys expired ones.

    Durations are in seconds. ``execute(job, uploads)`` is the TAP query runner: it returns
    the result bytes and MIME type, or raises ``TapError`` whose message the job's error
    document shows; any other exception is logged and shown as a generic message.

    Jobs QUEUED in the store when ``start`` runs are queued again; jobs EXECUTING then are
    marked ERROR ("interrupted by a service restart"), because they belonged to a process
    that is gone: so one runner serves one database (one process, or one designated worker).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        execute: Execute,
        *,
        workers: int = 2,
        default_duration: int = 600,
        max_duration: int = 3600,
        destruction: timedelta = timedelta(days=7),
        sole_runner: bool = True,
        max_active_per_owner: int = 100,
        viewer_of: Callable[[Caller], Viewer] = lambda _: PUBLIC,
    ) -> None:
        self.sessions = sessions
        #: What a caller may see (embargoes): its jobs run later with that view.
        self.viewer_of = viewer_of
        #: Jobs not yet ended an owner may hold (anonymous callers share one allowance).
        self.max_active_per_owner = max_active_per_owner
        # With several service processes over one database, a starting process cannot
        # tell a dead process's EXECUTING job from a live sibling's: it leaves them to the
        # reaper's overdue rule (execution duration + grace) instead of failing them.
        self._sole_runner = sole_runner
        self.default_duration = default_duration
        self.max_duration = max_duration
        self.destruction = destruction
        self._execute = execute
        self._workers = workers
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._running: dict[str, asyncio.Task[tuple[bytes, str]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()

    async def start(self) -> None:
        """Recover the jobs a previous process left, then start the workers and the reaper."""
        async with self.sessions.begin() as session:
            queued = await jobs.list_jobs(session, phases={Phase.QUEUED})
            executing = await jobs.list_jobs(session, phases={Phase.EXECUTING})
            for job in executing if self._sole_runner else ():
                await jobs.fail_job(session, job.job_id, _INTERRUPTED, _now())
        for job in reversed(queued):  # oldest first
            self._queue.put_nowait(job.job_id)
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]
        self._tasks.append(asyncio.create_task(self._reap_forever()))

    async def stop(self) -> None:
        """Stop the workers; jobs they were running are marked ERROR (interrupted)."""
        interrupted = dict(self._running)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, *interrupted.values(), return_exceptions=True)
        self._tasks = []
        async with self.sessions.begin() as session:
            for job_id in interrupted:
                await jobs.fail_job(session, job_id, _INTERRUPTED, _now())
        self._notify()

    # --- what the routes ask for ------------------------------------------------------

    async def create_job(
        self,
        request: TapRequest,
        service_url: str,
        owner: str | None = None,
        viewer: Viewer = PUBLIC,
    ) -> str:
        """A new PENDING job from DALI parameters, owned by ``owner`` (None: anonymous).

        The job keeps what its owner may see, and runs with that view, whoever starts it.
        """
        parameters, uploads = _job_parameters(request, {})
        now = _now()
        async with self.sessions.begin() as session:
            active = await jobs.list_jobs(
                session, phases=jobs.ACTIVE_PHASES, owner=owner, by_owner=True
            )
            if len(active) >= self.max_active_per_owner:
                who = owner or "anonymous callers"
                msg = (
                    f"{who} already hold {len(active)} jobs that have not ended (at most "
                    f"{self.max_active_per_owner}): delete or wait for some first"
                )
                raise UwsError(msg, status=429)
            return await jobs.add_job(
                session,
                parameters=parameters,
                uploads=uploads,
                run_id=request.get("RUNID"),
                owner=owner,
                service_url=service_url,
                now=now,
                destruction_at=now + self.destruction,
                execution_duration=self.default_duration,
                viewer=viewer,
            )

    async def get_job(self, job_id: str) -> JobRecord:
        """The job, or ``JobNotFoundError``."""
        async with self.sessions() as session:
            job = await jobs.get_job(session, job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    async def list_jobs(
        self,
        phases: Iterable[Phase],
        after: datetime | None,
        last: int | None,
        owner: str | None = None,
    ) -> list[JobRecord]:
        """``owner``'s jobs (None: the anonymous ones) newest first, as UWS 1.1 §2.2.1.1."""
        async with self.sessions() as session:
            return await jobs.list_jobs(
                session, phases=set(phases), after=after, last=last, owner=owner, by_owner=True
            )

    async def run_job(self, job_id: str) -> None:
        """Queue a PENDING or HELD job."""
        async with self.sessions.begin() as session:
            moved = await jobs.change_phase(
                session, job_id, Phase.QUEUED, allowed_from=_RUNNABLE, now=_now()
            )
        if not moved:
            job = await self.get_job(job_id)
            raise UwsError(f"job {job_id} is {job.phase}; only a PENDING or HELD job can run")
        self._queue.put_nowait(job_id)
        self._notify()

    async def abort_job(self, job_id: str) -> None:
        """Abort a job that has not ended, cancelling it if it runs here."""
        async with self.sessions.begin() as session:
            moved = await jobs.change_phase(
                session, job_id, Phase.ABORTED, allowed_from=ACTIVE_PHASES, now=_now()
            )
        if not moved:
            job = await self.get_job(job_id)
            raise UwsError(f"job {job_id} is {job.phase} and has already ended")
        if task := self._running.get(job_id):
            task.cancel()
        self._notify()

    async def delete_job(self, job_id: str) -> None:
        """Destroy a job, cancelling it if it runs here."""
        if task := self._running.get(job_id):
            task.cancel()
        async with self.sessions.begin() as session:
            deleted = await jobs.delete_job(session, job_id)
        if not deleted:
            raise JobNotFoundError(job_id)
        self._notify()

    async def update_parameters(self, job_id: str, request: TapRequest) -> None:
        """Add or replace parameters (UPLOADs accumulate) of a PENDING job."""
        job = await self.get_job(job_id)
        parameters, uploads = _job_parameters(request, job.parameters)
        async with self.sessions.begin() as session:
            changed = await jobs.update_parameters(
                session, job_id, parameters, uploads, request.get("RUNID")
            )
        if not changed:
            raise UwsError(
                f"job {job_id} is {job.phase}; parameters change only while PENDING", status=409
            )

    async def set_execution_duration(self, job_id: str, seconds: int) -> None:
        """Set the limit before the job runs; 0 or more than the maximum means the maximum."""
        if seconds <= 0 or seconds > self.max_duration:
            seconds = self.max_duration
        async with self.sessions.begin() as session:
            changed = await jobs.set_execution_duration(
                session, job_id, seconds, allowed_from={Phase.PENDING, Phase.HELD}
            )
        if not changed:
            job = await self.get_job(job_id)
            raise UwsError(f"job {job_id} is {job.phase}; its duration is fixed", status=409)

    async def set_destruction(self, job_id: str, at: datetime) -> None:
        """Set when the job is destroyed, at most the retention period from now."""
        at = min(at, _now() + self.destruction)
        async with self.sessions.begin() as session:
            if not await jobs.set_destruction(session, job_id, at):
                raise JobNotFoundError(job_id)

    async def get_result(self, job_id: str) -> tuple[bytes, str]:
        """The result of a COMPLETED job."""
        async with self.sessions() as session:
            found = await jobs.get_result(session, job_id)
        if found is None:
            job = await self.get_job(job_id)
            raise UwsError(f"job {job_id} is {job.phase}; it has no result yet", status=404)
        return found

    async def wait(self, job_id: str, phase: Phase | None, seconds: float) -> JobRecord:
        """The job once its phase differs from ``phase`` (default: its current one).

        UWS 1.1 §2.2.1.2: only PENDING, QUEUED and EXECUTING jobs block; a job already in
        another phase than the one given answers at once. Changes made in this process wake
        the waiter; the store is polled too, for changes made by another process.
        """
        job = await self.get_job(job_id)
        watched = phase or job.phase
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(seconds, MAX_WAIT)
        while job.phase == watched and job.phase in {Phase.PENDING, Phase.QUEUED, Phase.EXECUTING}:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, POLL_INTERVAL))
            job = await self.get_job(job_id)
        return job

    # --- running ------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _work(self) -> None:
        while True:
            job_id = await self._queue.get()
            try:
                await self._run(job_id)
            except Exception:  # a store failure must not end the worker
                logger.exception("UWS job %s could not be run", job_id)

    async def _run(self, job_id: str) -> None:
        async with self.sessions.begin() as session:
            if not await jobs.change_phase(
                session, job_id, Phase.EXECUTING, allowed_from={Phase.QUEUED}, now=_now()
            ):
                return  # aborted or destroyed while queued
            job = await jobs.get_job(session, job_id)
            uploads = await jobs.get_uploads(session, job_id)
        if job is None:
            return
        self._notify()
        task = asyncio.create_task(self._call(job, uploads))
        self._running[job_id] = task
        try:
            done, _ = await asyncio.wait({task}, timeout=job.execution_duration or None)
        finally:
            del self._running[job_id]
            task.cancel()  # a no-op once done; stops the query when this worker is cancelled
        if not done:
            await asyncio.wait({task})
            await self._fail(job_id, f"execution time limit of {job.execution_duration} s exceeded")
        elif not task.cancelled():  # cancelled: aborted or destroyed, already recorded
            await self._record(job_id, task)

    async def _call(self, job: JobRecord, uploads: dict[str, bytes]) -> tuple[bytes, str]:
        return await self._execute(job, uploads)

    async def _record(self, job_id: str, task: asyncio.Task[tuple[bytes, str]]) -> None:
        error = task.exception()
        if isinstance(error, TapError):
            await self._fail(job_id, error.message)
        elif error is not None:
            logger.error("UWS job %s failed", job_id, exc_info=error)
            await self._fail(job_id, _INTERNAL)
        else:
            content, mime_type = task.result()
            async with self.sessions.begin() as session:
                await jobs.complete_job(session, job_id, content, mime_type, _now())
            self._notify()

    async def _fail(self, job_id: str, message: str) -> None:
        async with self.sessions.begin() as session:
            await jobs.fail_job(session, job_id, message, _now())
        self._notify()

    # --- reaping ------------------------------------------------------------------------

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL)
            try:
                await self.reap()
            except Exception:  # the next round tries again
                logger.exception("reaping UWS jobs failed")

    async def reap(self) -> None:
        """One round: destroy expired jobs, stop what no longer should run.

        A task here whose job is no longer EXECUTING in the store (another process aborted or
        destroyed it) is cancelled; a job EXECUTING past its limit that no task here runs
        (its process died) is marked ERROR.
        """
        now = _now()
        running = dict(self._running)  # taken first: each was EXECUTING in the store before
        async with self.sessions.begin() as session:
            for job_id in await jobs.list_expired(session, now):
                if task := running.get(job_id):
                    task.cancel()
                await jobs.delete_job(session, job_id)
            executing = await jobs.list_jobs(session, phases={Phase.EXECUTING})
            for job in executing:
                if job.job_id not in self._running and _overdue(job, now):
                    message = f"execution time limit of {job.execution_duration} s exceeded"
                    await jobs.fail_job(session, job.job_id, message, now)
        still = {job.job_id for job in executing}
        for job_id, task in running.items():
            if job_id not in still:
                task.cancel()
        self._notify()


def _overdue(job: JobRecord, now: datetime) -> bool:
    if not job.execution_duration or job.started_at is None:
        return False
    return now > job.started_at + timedelta(seconds=job.execution_duration) + OVERDUE_GRACE


def _job_parameters(
    request: TapRequest, current: Parameters
) -> tuple[Parameters, dict[str, bytes]]:
    """Merge a request's parameters into a job's, and pick the inline uploads it refers to.

    Single-valued parameters replace; UPLOADs accumulate (DALI 1.1 §3.2.8), a table name
    given again replacing its earlier URI. PHASE and RUNID are controls, not parameters.
    """
    parameters: Parameters = dict(current)
    parameters.update(
        (name, value) for name, value in request.params.items() if name not in {"PHASE", "RUNID"}
    )
    previous = current.get("UPLOAD", [])
    tables = dict(previous) if isinstance(previous, list) else {}
    uploads = {}
    for name, uri in request.uploads:
        tables[name] = uri
        if uri.startswith("param:"):
            part = uri.removeprefix("param:")
            if part not in request.files:
                raise UwsError(f"UPLOAD {name!r} refers to part {part!r}, which was not sent")
            uploads[part] = request.files[part]
    if tables:
        parameters["UPLOAD"] = list(tables.items())
    return parameters, uploads


# --- XML ------------------------------------------------------------------------------------


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _optional_timestamp(value: datetime | None) -> str | None:
    return None if value is None else _timestamp(value)


def _text(parent: ET.Element, tag: str, value: str | None) -> ET.Element:
    """A child element, ``xsi:nil`` when there is no value (UWS 1.1 nillable elements)."""
    element = ET.SubElement(parent, tag)
    if value is None:
        element.set("xsi:nil", "true")
    else:
        element.text = value
    return element


def _root(tag: str) -> ET.Element:
    return ET.Element(
        tag,
        {"xmlns:uws": UWS, "xmlns:xlink": XLINK, "xmlns:xsi": XSI, "version": "1.1"},
    )


def _serialise(root: ET.Element) -> bytes:
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _fill_results(results: ET.Element, job: JobRecord, job_url: str) -> None:
    for result in job.results:
        ET.SubElement(
            results,
            "uws:result",
            {
                "id": result.name,
                "xlink:type": "simple",
                "xlink:href": f"{job_url}/results/{result.name}",
                "size": str(result.size),
                "mime-type": result.mime_type,
            },
        )


def _fill_parameters(element: ET.Element, parameters: Parameters) -> None:
    for name, value in parameters.items():
        items = [f"{table},{uri}" for table, uri in value] if isinstance(value, list) else [value]
        for item in items:
            ET.SubElement(element, "uws:parameter", {"id": name}).text = item


def job_document(job: JobRecord, job_url: str) -> bytes:
    """The ``uws:job`` document (UWS 1.1 §2.2.1)."""
    root = _root("uws:job")
    _text(root, "uws:jobId", job.job_id)
    if job.run_id is not None:
        _text(root, "uws:runId", job.run_id)
    _text(root, "uws:ownerId", job.owner)
    _text(root, "uws:phase", job.phase.value)
    _text(root, "uws:quote", _optional_timestamp(job.quote))
    _text(root, "uws:creationTime", _timestamp(job.created_at))
    _text(root, "uws:startTime", _optional_timestamp(job.started_at))
    _text(root, "uws:endTime", _optional_timestamp(job.ended_at))
    _text(root, "uws:executionDuration", str(job.execution_duration))
    _text(root, "uws:destruction", _timestamp(job.destruction_at))
    _fill_parameters(ET.SubElement(root, "uws:parameters"), job.parameters)
    _fill_results(ET.SubElement(root, "uws:results"), job, job_url)
    if job.phase is Phase.ERROR:
        summary = ET.SubElement(
            root, "uws:errorSummary", {"type": job.error_type or "fatal", "hasDetail": "true"}
        )
        _text(summary, "uws:message", job.error_message or "")
    return _serialise(root)


def job_list_document(found: Iterable[JobRecord], jobs_url: str) -> bytes:
    """The ``uws:jobs`` list (UWS 1.1 §2.2.1.1)."""
    root = _root("uws:jobs")
    for job in found:
        ref = ET.SubElement(
            root,
            "uws:jobref",
            {"id": job.job_id, "xlink:type": "simple", "xlink:href": f"{jobs_url}/{job.job_id}"},
        )
        _text(ref, "uws:phase", job.phase.value)
        if job.run_id is not None:
            _text(ref, "uws:runId", job.run_id)
        _text(ref, "uws:ownerId", job.owner)
        _text(ref, "uws:creationTime", _timestamp(job.created_at))
    return _serialise(root)


# --- HTTP -----------------------------------------------------------------------------------


Handler = Callable[[Request], Awaitable[Response]]


def _owner(request: Request) -> str | None:
    """The job owner a request speaks for: its caller's subject, None when anonymous."""
    caller = caller_of(request)
    return caller.subject if caller.authenticated else None


def _answering(handler: Handler, runner: JobRunner) -> Handler:
    """Answer a UWS or DALI parameter error with its status and message, in plain text.

    A job belongs to whoever created it: another caller gets 403 (an anonymous caller 401,
    so that a client that forgot its token learns it); anonymous jobs are anyone's who
    holds their URL, as before authentication.
    """

    async def endpoint(request: Request) -> Response:
        try:
            job_id = request.path_params.get("job_id")
            if job_id is not None:
                job = await runner.get_job(job_id)
                if job.owner is not None and job.owner != _owner(request):
                    status = 401 if _owner(request) is None else 403
                    raise UwsError(f"job {job_id!r} belongs to another caller", status=status)
            return await handler(request)
        except TapError as error:
            return PlainTextResponse(error.message, status_code=error.status)

    return endpoint


def _jobs_url(request: Request) -> str:
    """The job list's absolute URL, without a trailing slash, wherever the routes are mounted."""
    return str(request.url.replace(path=request.scope.get("root_path", ""), query=""))


def _job_url(request: Request, job_id: str) -> str:
    return f"{_jobs_url(request)}/{job_id}"


def _see(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _xml(content: bytes) -> Response:
    return Response(content, media_type=XML_TYPE)


def _phases(values: Iterable[str]) -> list[Phase]:
    try:
        return [Phase(value.upper()) for value in values]
    except ValueError as error:
        raise UwsError(f"unknown PHASE; one of {', '.join(Phase)} was expected") from error


def _param(request: Request, name: str) -> list[str]:
    """All values of a query parameter, its name in any case (DALI 1.1 §3)."""
    return [v for k, v in request.query_params.multi_items() if k.upper() == name]


def _integer(value: str | None, name: str) -> int:
    try:
        return int(value or "")
    except ValueError as error:
        raise UwsError(f"{name} must be an integer, got {value!r}") from error


def _instant(value: str | None, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value or "")
    except ValueError as error:
        raise UwsError(f"{name} must be an ISO 8601 time, got {value!r}") from error
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


class _Resources:
    """The endpoints, bound to one runner."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    async def job_list(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.create(request)
        after = _param(request, "AFTER")
        last = _param(request, "LAST")
        found = await self.runner.list_jobs(
            _phases(_param(request, "PHASE")),
            max((_instant(v, "AFTER") for v in after), default=None),
            _integer(last[-1], "LAST") if last else None,
            _owner(request),
        )
        return _xml(job_list_document(found, _jobs_url(request)))

    async def create(self, request: Request) -> Response:
        params = await read_request(request)
        viewer = self.runner.viewer_of(caller_of(request))
        job_id = await self.runner.create_job(params, _jobs_url(request), _owner(request), viewer)
        if (params.get("PHASE") or "").upper() == "RUN":
            await self.runner.run_job(job_id)
        return _see(_job_url(request, job_id))

    async def job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "DELETE":
            return await self._delete(request, job_id)
        if request.method == "POST":
            action = (await read_request(request)).get("ACTION") or ""
            if action.upper() != "DELETE":
                raise UwsError(f"ACTION must be DELETE, got {action!r}")
            return await self._delete(request, job_id)
        wait = _param(request, "WAIT")
        if wait:
            seconds = _integer(wait[-1], "WAIT")
            phase = _phases(_param(request, "PHASE")[-1:])
            job = await self.runner.wait(
                job_id, phase[0] if phase else None, MAX_WAIT if seconds < 0 else seconds
            )
        else:
            job = await self.runner.get_job(job_id)
        return _xml(job_document(job, _job_url(request, job_id)))

    async def _delete(self, request: Request, job_id: str) -> Response:
        await self.runner.delete_job(job_id)
        return _see(_jobs_url(request) + "/")

    async def phase(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "GET":
            return PlainTextResponse((await self.runner.get_job(job_id)).phase.value)
        value = ((await read_request(request)).get("PHASE") or "").upper()
        if value == "RUN":
            await self.runner.run_job(job_id)
        elif value == "ABORT":
            await self.runner.abort_job(job_id)
        else:
            raise UwsError(f"PHASE must be RUN or ABORT, got {value!r}")
        return _see(_job_url(request, job_id))

    async def execution_duration(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "POST":
            value = (await read_request(request)).get("EXECUTIONDURATION")
            seconds = _integer(value, "EXECUTIONDURATION")
            await self.runner.set_execution_duration(job_id, seconds)
            return _see(_job_url(request, job_id))
        job = await self.runner.get_job(job_id)
        return PlainTextResponse(str(job.execution_duration))

    async def destruction(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "POST":
            value = (await read_request(request)).get("DESTRUCTION")
            await self.runner.set_destruction(job_id, _instant(value, "DESTRUCTION"))
            return _see(_job_url(request, job_id))
        job = await self.runner.get_job(job_id)
        return PlainTextResponse(_timestamp(job.destruction_at))

    async def quote(self, request: Request) -> Response:
        job = await self.runner.get_job(request.path_params["job_id"])
        return PlainTextResponse(_optional_timestamp(job.quote) or "")

    async def owner(self, request: Request) -> Response:
        job = await self.runner.get_job(request.path_params["job_id"])
        return PlainTextResponse(job.owner or "")

    async def error(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        job = await self.runner.get_job(job_id)
        if job.phase is not Phase.ERROR:
            raise UwsError(f"job {job_id} is {job.phase}; it has no error", status=404)
        return Response(error_document(job.error_message or ""), media_type=VOTABLE_MIME)

    async def parameters(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if request.method == "POST":
            await self.runner.update_parameters(job_id, await read_request(request))
            return _see(_job_url(request, job_id))
        job = await self.runner.get_job(job_id)
        root = _root("uws:parameters")
        _fill_parameters(root, job.parameters)
        return _xml(_serialise(root))

    async def results(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        job = await self.runner.get_job(job_id)
        root = _root("uws:results")
        _fill_results(root, job, _job_url(request, job_id))
        return _xml(_serialise(root))

    async def result(self, request: Request) -> Response:
        if request.path_params["name"] != "result":
            raise UwsError(f"no result {request.path_params['name']!r}", status=404)
        content, mime_type = await self.runner.get_result(request.path_params["job_id"])
        return Response(content, media_type=mime_type)


def async_routes(runner: JobRunner) -> list[BaseRoute]:
    """The UWS job list and job resources, to be mounted at the TAP service's ``/async``."""
    r = _Resources(runner)
    read, write, any_ = ["GET"], ["GET", "POST"], ["GET", "POST", "DELETE"]

    def route(path: str, handler: Handler, methods: list[str]) -> Route:
        return Route(path, _answering(handler, runner), methods=methods)

    return [
        route("/", r.job_list, write),
        route("/{job_id}", r.job, any_),
        route("/{job_id}/phase", r.phase, write),
        route("/{job_id}/executionduration", r.execution_duration, write),
        route("/{job_id}/destruction", r.destruction, write),
        route("/{job_id}/quote", r.quote, read),
        route("/{job_id}/owner", r.owner, read),
        route("/{job_id}/error", r.error, read),
        route("/{job_id}/parameters", r.parameters, write),
        route("/{job_id}/results", r.results, read),
        route("/{job_id}/results/{name}", r.result, read),
    ]
