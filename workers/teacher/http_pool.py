"""The HTTP side of a teacher server backend: a sliding window of requests, retries with
exponential backoff and jitter, and the server's numbers (see openai_backend.py's text)."""

from __future__ import annotations

import random
import time
from collections import deque

import requests

from workers.teacher.base import RunStats, ServerUnreachableError, TeacherError, finish_batch

RETRY_STATUS = {429, 500, 502, 503, 504}
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 20.0


class RequestFailed(Exception):
    """One request failed in a way that concerns only that prompt."""


class ServerPool:
    """Mixed into a backend that sets ``base_url``, ``shown_url``, ``model``, ``timeout``,
    ``concurrency``, ``max_retries``, ``_session``, ``_pool``, ``_stats_lock``, ``_server``
    and ``_sleep``."""

    def _count(self, key: str, status=None) -> None:
        with self._stats_lock:
            if key == "errors":
                self._server["errors"][str(status)] = self._server["errors"].get(str(status), 0) + 1
            else:
                self._server[key] += 1

    def _backoff(self, attempt: int, resp=None) -> None:
        after = resp.headers.get("Retry-After") if resp is not None else None
        try:
            delay = float(after) if after is not None else None
        except ValueError:
            delay = None
        if delay is None:
            delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt) * random.uniform(0.5, 1.5)
        self._sleep(min(delay, BACKOFF_CAP_S))

    def _post(self, path: str, body: dict) -> dict:
        url = f"{self.base_url}/{path}"
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            self._count("requests")
            try:
                resp = self._session.post(url, json=body, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._count("errors", type(exc).__name__)
                if not last:
                    self._count("retries")
                    self._backoff(attempt)
                    continue
                raise ServerUnreachableError(
                    f"cannot reach the teacher server at {self.shown_url} ({type(exc).__name__}, "
                    f"{self.max_retries} retries)"
                ) from None
            if resp.status_code >= 400:
                self._count("errors", resp.status_code)
            if resp.status_code in RETRY_STATUS and not last:
                self._count("retries")
                self._backoff(attempt, resp)
                continue
            break
        if resp.status_code in (401, 403):
            raise TeacherError(f"the teacher server at {self.shown_url} refused the API key (HTTP {resp.status_code})")
        if resp.status_code == 404:
            raise TeacherError(
                f"the teacher server at {self.shown_url} has no {path} endpoint or no model "
                f"{self.model!r} (HTTP 404: {_message(resp)})"
            )
        if resp.status_code >= 400:
            raise RequestFailed(f"teacher server error (HTTP {resp.status_code}): {_message(resp)}")
        try:
            return resp.json()
        except ValueError:
            raise RequestFailed("teacher server sent a response that is not JSON") from None

    def server_stats(self) -> dict:
        """Requests, retries, errors by status, and the server's prompts and tokens per second of calls."""
        with self._stats_lock:
            out = {**self._server, "errors": dict(self._server["errors"])}
        busy = max(out["busy_s"], 1e-9)
        out["tokens_per_s"] = round(out["tokens"] / busy, 1) if out["busy_s"] else 0.0
        out["prompts_per_s"] = round(out["prompts"] / busy, 2) if out["busy_s"] else 0.0
        out["busy_s"] = round(out["busy_s"], 3)
        return out

    def _stream(self, fn, items):
        """``(item, result, error)`` in item order, ``concurrency`` calls of ``fn`` in flight throughout
        (a sliding window, never a barrier); a per-item RequestFailed becomes its message."""

        def guarded(item):
            try:
                return fn(item), None
            except RequestFailed as exc:
                return None, str(exc)

        it = iter(items)
        window: deque = deque()
        ahead = 4 * self.concurrency  # submitted ahead of the oldest, so a slow one idles no thread
        for item in it:
            window.append((item, self._pool.submit(guarded, item)))
            if len(window) >= ahead:
                break
        try:
            while window:
                item, future = window.popleft()
                result, error = future.result()
                following = next(it, None)
                if following is not None:
                    window.append((following, self._pool.submit(guarded, following)))
                yield item, result, error
        finally:
            for _, future in window:
                future.cancel()

    def _map_parallel(self, fn, items):
        return [(result, error) for _, result, error in self._stream(fn, items)]

    def _run_window(self, fn, requests_, failed, stats: RunStats, on_batch, *, per_call: int = 1) -> list:
        """The one sliding window of a whole call (generation, scoring, classification): groups of
        ``per_call`` requests go to ``fn`` (which returns one result per request) with ``concurrency``
        calls in flight throughout; a failed call gives ``failed(request, message)`` for each of its
        requests. Results reach ``on_batch`` in request order, ``batch_size`` at a time, without
        ever pausing the window at a batch's end."""
        account = self._timed(stats)
        groups = [list(requests_[i : i + per_call]) for i in range(0, len(requests_), per_call)]
        out: list = []
        pending: list = []
        stream = self._stream(fn, groups)
        try:
            for group, results, err in stream:
                pending.extend(results if results is not None else [failed(r, err) for r in group])
                while len(pending) >= self.batch_size or (pending and len(out) + len(pending) == len(requests_)):
                    batch, pending = pending[: self.batch_size], pending[self.batch_size :]
                    out.extend(batch)
                    account(batch)
                    if finish_batch(batch, stats, on_batch):
                        return out
        finally:
            stream.close()
        return out

    def _timed(self, stats: RunStats):
        """Account the server's throughput over this call (the wall time requests were out)."""
        started = time.perf_counter()

        def done(results) -> None:
            with self._stats_lock:
                self._server["prompts"] += len(results)
                self._server["tokens"] += sum(getattr(r, "token_count", 0) for r in results)
                now = time.perf_counter()
                self._server["busy_s"] += now - done.last
                done.last = now
            stats.server = self.server_stats()

        done.last = started
        return done


def _message(resp) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    err = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(err, dict):
        return str(err.get("message") or err)[:300]
    return str(err)[:300]
