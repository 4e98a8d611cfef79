"""The HTTP push endpoint: a department's system POSTs records, each answered accept or reject.

`POST /push/<department>` (its command-line name, `sanwang connect --help`), for every department
whose declaration's live path is HTTP push, with `Authorization: Bearer <token>` and a body of one
JSON object or an array of them (the same objects as its export's lines or rows). 401 without a
valid token, 403 with another department's. 200 answers every item: accepted (its event id; the
broker has acknowledged it) or rejected (why; it is also dead-lettered). 503 when the broker did not
acknowledge: nothing is confirmed, send again (ids are deterministic, resending is harmless).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from kafka.errors import KafkaError
from starlette.concurrency import run_in_threadpool

from connectors.jsonl_source import PushBodyError, parse_push_body
from connectors.mapping import to_event
from connectors.publisher import EventPublisher, InvalidEventError
from connectors.push_tokens import department_of_token
from connectors.records import MappingError, SourceRecord
from schemas.declarations import Department
from schemas.departments import all_departments
from schemas.events import canonical_json

MAX_BODY_BYTES = 16 << 20
ACK_TIMEOUT_SECONDS = 30.0


def push_departments() -> dict[str, Department]:
    """The departments that push, by the name their URL spells."""
    return {d.cli_name: d for d in all_departments().values() if d.live.kind == "http_push"}


def create_push_app(tokens: dict[str, str], publishers: dict[str, EventPublisher]) -> FastAPI:
    """The endpoint, publishing through one long-lived publisher per department."""
    app = FastAPI(title="Sanwang Hub push endpoint", version="1")

    pushing = push_departments()

    @app.post("/push/{source}")
    async def push(source: str, request: Request) -> JSONResponse:
        if source not in pushing:
            raise HTTPException(404, f"no push endpoint for {source!r}; known: "
                                f"{', '.join(pushing)}")
        department = pushing[source]
        _authorize(request, tokens, department.id)
        body = await _read_body(request)
        try:
            items = parse_push_body(body)
        except PushBodyError as error:
            raise HTTPException(400, f"body: {error}") from None
        request_id = uuid.uuid4().hex[:12]
        results = await run_in_threadpool(_publish_items, items, department,
                                          publishers[department.id], request_id)
        accepted = sum(r["status"] == "accepted" for r in results)
        return JSONResponse({"request": request_id, "accepted": accepted,
                             "rejected": len(results) - accepted, "results": results})

    return app


async def _read_body(request: Request) -> bytes:
    """The body, refused (413) as soon as it passes the limit: a huge body is never held whole."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _authorize(request: Request, tokens: dict[str, str], department: str) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    who = department_of_token(tokens, token.strip()) if scheme.lower() == "bearer" else None
    if who is None:
        raise HTTPException(401, "a department's bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    if who != department:
        raise HTTPException(403, f"the {who} token may not push {department} records")


def _raw_bytes(item: dict[str, Any] | str) -> bytes:
    """The item as its dead letter keeps it; ASCII-escaped when it is no storable JSON
    (infinity from 1e400, lone surrogates), so that a bad item never fails the request."""
    try:
        return canonical_json(item)
    except ValueError:
        return json.dumps(item, sort_keys=True).encode()


def _publish_items(items: list[dict[str, Any] | str], department: Department,
                   publisher: EventPublisher, request_id: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    futures = []
    for index, item in enumerate(items):
        publisher.records_read.inc()
        origin = {"request": request_id, "index": index}
        record = SourceRecord(origin, _raw_bytes(item), columns=item
                              if isinstance(item, dict) else None)
        try:
            if isinstance(item, str):
                raise MappingError(item)
            event = to_event(department, item, origin)
            futures.append((index, publisher.publish(event)))
            results.append({"index": index, "status": "accepted", "record_id": event["subject"],
                            "event_id": event["id"]})
        except (MappingError, InvalidEventError) as error:
            publisher.dead_letter(record, "push", str(error))
            results.append({"index": index, "status": "rejected", "reason": str(error)})
    try:
        for _index, future in futures:
            future.get(timeout=ACK_TIMEOUT_SECONDS)
    except KafkaError as error:
        raise HTTPException(503, f"the broker did not acknowledge: {error}; send again") from None
    return results
