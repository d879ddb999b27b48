"""Import jobs: ``/api/v1/jobs``, waited on through ``/api/v1/events/jobs``."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .._errors import JobFailedError
from .._operations import operation
from .._pagination import AsyncPager, Pager
from .._transport import seg
from ..models import Job, JobEvent, JobSpec, JobState
from ._base import PAGE_SIZE, AsyncResource, SyncResource, page_of

#: What ``submit`` takes: one job as a dict, several as a list or
#: ``{"jobs": [...]}``, or the path of a ``.yaml``/``.yml``/``.json`` file
#: holding either (sent as it is: hyped parses YAML itself).
Submission = Union[JobSpec, Mapping[str, Any], Sequence[Mapping[str, Any]], str, "os.PathLike[str]"]
Progress = Callable[[JobEvent], Any]

_YAML = {".yaml", ".yml"}


def _body(spec: Submission) -> Tuple[bytes, str, Optional[int]]:
    """The request body, its content type, and how many jobs it holds (None: unknown)."""
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        data = path.read_bytes()
        if path.suffix.lower() in _YAML:
            return data, "application/yaml", None
        if path.suffix.lower() == ".json":
            return data, "application/json", _count(json.loads(data))
        raise ValueError(f"{path}: a job file is .yaml, .yml or .json")
    if isinstance(spec, Mapping):
        return json.dumps(dict(spec)).encode(), "application/json", _count(spec)
    jobs = list(spec)
    return json.dumps({"jobs": [dict(j) for j in jobs]}).encode(), "application/json", len(jobs)


def _count(value: Any) -> Optional[int]:
    if isinstance(value, Mapping) and isinstance(value.get("jobs"), list):
        return len(value["jobs"])
    return 1 if isinstance(value, Mapping) else None


def _one(jobs: List[Job], expected: Optional[int]) -> Job:
    if len(jobs) != 1:
        ids = ", ".join(j.id for j in jobs)
        raise ValueError(f"the submission queued {len(jobs)} jobs ({ids}); use jobs.submit_many() for several")
    return jobs[0]


def _several(expected: Optional[int]) -> None:
    if expected is not None and expected != 1:
        raise ValueError(f"submit() takes one job, this holds {expected}: use jobs.submit_many()")


def _list_params(state: Optional[str], page_size: Optional[int], after: Optional[str]) -> Dict[str, Any]:
    return {"state": state, "limit": page_size or PAGE_SIZE, "after": after}


class Jobs(SyncResource):
    """``h.jobs``: import VMs from vSphere and XCP-ng as images."""

    def _bind(self, job: Job) -> Job:
        job._client = self._client
        return job

    def _post(self, spec: Submission) -> Tuple[List[Job], Optional[int]]:
        body, ctype, n = _body(spec)
        r = self._t.request("POST", "/api/v1/jobs", content=body, headers={"Content-Type": ctype})
        return page_of(r.json(), "jobs", Job, self._bind)[0], n

    @operation("POST", "/api/v1/jobs")
    def submit(self, spec: Submission) -> Job:
        """Queues one job (a dict, or a YAML/JSON file) and returns it;
        then ``job.wait()``. Passwords go to hyped and are never echoed back."""
        if not isinstance(spec, (str, os.PathLike)):
            _several(_body(spec)[2])
        jobs, n = self._post(spec)
        return _one(jobs, n)

    @operation("POST", "/api/v1/jobs")
    def submit_many(self, specs: Submission) -> List[Job]:
        """Queues several jobs at once (all stored or none)."""
        return self._post(specs)[0]

    @operation("GET", "/api/v1/jobs")
    def list(self, *, state: Optional[JobState] = None, page_size: Optional[int] = None) -> Pager[Job]:
        """Jobs, newest first; iterating follows the pages."""
        return Pager(lambda cur: page_of(
            self._t.request("GET", "/api/v1/jobs", params=_list_params(state, page_size, cur)).json(),
            "jobs", Job, self._bind))

    @operation("GET", "/api/v1/jobs/{id}")
    def get(self, id: str, *, _into: Optional[Job] = None) -> Job:
        """One job."""
        job = self._bind(Job.from_json(self._t.request("GET", f"/api/v1/jobs/{seg(id)}").json()))
        return _into._update(job) if _into is not None else job

    @operation("POST", "/api/v1/jobs/{id}/cancel")
    def cancel(self, id: str, *, _into: Optional[Job] = None) -> Job:
        """Cancels a job; it comes back cancelled, or still stopping (``409`` if it already ended)."""
        job = self._bind(Job.from_json(self._t.request("POST", f"/api/v1/jobs/{seg(id)}/cancel").json()))
        return _into._update(job) if _into is not None else job

    @operation("POST", "/api/v1/jobs/{id}/resume")
    def resume(self, id: str, password: str, *, _into: Optional[Job] = None) -> Job:
        """Gives a job a restart left waiting for its password (phase
        ``awaiting_password``: its password was in the job, and hyped never
        stores one) the password again; it is queued and keeps what it had
        downloaded (``409`` if it is not waiting)."""
        r = self._t.request("POST", f"/api/v1/jobs/{seg(id)}/resume", json={"password": password})
        job = self._bind(Job.from_json(r.json()))
        return _into._update(job) if _into is not None else job

    def wait(self, id: str, *, progress: Optional[Progress] = None, timeout: Optional[float] = None,
             _into: Optional[Job] = None) -> Job:
        """Follows the job's events (from its first, so nothing is missed)
        until it ends; ``progress(event)`` sees each one. Returns the
        completed job; raises :class:`~hype.JobFailedError` if it failed
        or was cancelled, :class:`~hype.HypeTimeoutError` after ``timeout``."""
        with self._client.events.watch_jobs(job=id, last_event_id=0, timeout=timeout) as events:
            for ev in events:
                if progress is not None:
                    progress(ev)
                if ev.job.done:
                    job = _into._update(ev.job) if _into is not None else ev.job
                    if job.state != "completed":
                        raise JobFailedError(job)
                    return job
        raise RuntimeError("unreachable")  # pragma: no cover


class AsyncJobs(AsyncResource):
    """``h.jobs`` of :class:`~hype.AsyncHype`."""

    def _bind(self, job: Job) -> Job:
        job._client = self._client
        return job

    async def _post(self, spec: Submission) -> Tuple[List[Job], Optional[int]]:
        body, ctype, n = _body(spec)
        r = await self._t.request("POST", "/api/v1/jobs", content=body, headers={"Content-Type": ctype})
        return page_of(r.json(), "jobs", Job, self._bind)[0], n

    @operation("POST", "/api/v1/jobs")
    async def submit(self, spec: Submission) -> Job:
        """Queues one job and returns it; then ``await job.wait()``."""
        if not isinstance(spec, (str, os.PathLike)):
            _several(_body(spec)[2])
        jobs, n = await self._post(spec)
        return _one(jobs, n)

    @operation("POST", "/api/v1/jobs")
    async def submit_many(self, specs: Submission) -> List[Job]:
        """Queues several jobs at once (all stored or none)."""
        return (await self._post(specs))[0]

    @operation("GET", "/api/v1/jobs")
    def list(self, *, state: Optional[JobState] = None, page_size: Optional[int] = None) -> AsyncPager[Job]:
        """Jobs, newest first; ``async for`` follows the pages."""

        async def fetch(cur: Optional[str]):  # type: ignore[no-untyped-def]
            r = await self._t.request("GET", "/api/v1/jobs", params=_list_params(state, page_size, cur))
            return page_of(r.json(), "jobs", Job, self._bind)

        return AsyncPager(fetch)

    @operation("GET", "/api/v1/jobs/{id}")
    async def get(self, id: str, *, _into: Optional[Job] = None) -> Job:
        """One job."""
        job = self._bind(Job.from_json((await self._t.request("GET", f"/api/v1/jobs/{seg(id)}")).json()))
        return _into._update(job) if _into is not None else job

    @operation("POST", "/api/v1/jobs/{id}/cancel")
    async def cancel(self, id: str, *, _into: Optional[Job] = None) -> Job:
        """Cancels a job."""
        r = await self._t.request("POST", f"/api/v1/jobs/{seg(id)}/cancel")
        job = self._bind(Job.from_json(r.json()))
        return _into._update(job) if _into is not None else job

    @operation("POST", "/api/v1/jobs/{id}/resume")
    async def resume(self, id: str, password: str, *, _into: Optional[Job] = None) -> Job:
        """Gives a job waiting for its password the password again; see :meth:`Jobs.resume`."""
        r = await self._t.request("POST", f"/api/v1/jobs/{seg(id)}/resume", json={"password": password})
        job = self._bind(Job.from_json(r.json()))
        return _into._update(job) if _into is not None else job

    async def wait(self, id: str, *, progress: Optional[Progress] = None, timeout: Optional[float] = None,
                   _into: Optional[Job] = None) -> Job:
        """Follows the job's events until it ends (see :meth:`Jobs.wait`);
        ``progress`` may be a plain function or a coroutine function."""
        async with self._client.events.watch_jobs(job=id, last_event_id=0, timeout=timeout) as events:
            async for ev in events:
                if progress is not None:
                    out = progress(ev)
                    if inspect.isawaitable(out):
                        await out
                if ev.job.done:
                    job = _into._update(ev.job) if _into is not None else ev.job
                    if job.state != "completed":
                        raise JobFailedError(job)
                    return job
        raise RuntimeError("unreachable")  # pragma: no cover
