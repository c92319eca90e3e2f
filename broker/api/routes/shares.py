"""Shares: ask for a dataset for a purpose on a legal basis, and read back receipts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from functools import partial
from typing import Annotated

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from broker.api.audit_groups import AuditGroups
from broker.api.limits import ShareLane
from broker.api.problems import problem_responses
from broker.auth.verifier import TokenUse
from broker.deps import AuditedPartner, Groups, Lane, Partner, Runtime, Shares, token_use
from broker.errors import InvalidRequest, NotFound
from broker.privacy import Columns
from broker.sharing.models import ShareReceipt, ShareRequestBody, ShareResponse
from broker.sharing.service import MAX_PAGE, SharePage, ShareService
from broker.store.rows import iso_default, json_rows, row_dicts
from broker.store.tables import share_receipts

router = APIRouter(prefix="/v1/shares", tags=["shares"])

NDJSON = "application/x-ndjson"
CSV = "text/csv"
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=128, description="Replays the same receipt"),
]


def _receipt_headers(receipt: ShareReceipt, replayed: bool) -> dict[str, str]:
    headers = {
        "X-Tillit-Share-Id": receipt.share_id,
        "X-Tillit-Agreement": f"{receipt.agreement_id};version={receipt.agreement_version}",
        "X-Tillit-Row-Count": str(receipt.row_count),
        "X-Tillit-Audit-Seq": str(receipt.audit_seq),
        "Link": f'</v1/shares/{receipt.share_id}>; rel="receipt"',
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers


def _ndjson(chunks: Iterator[Columns]) -> Iterator[bytes]:
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for rows in chunks:
        yield b"".join([dumps(row, default=iso_default, option=newline) for row in row_dicts(rows)])


def _csv(chunks: Iterator[Columns], columns: list[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for rows in chunks:
        writer.writerows(json_rows(rows))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _stream(
    service: ShareService,
    principal: Partner,
    body: ShareRequestBody,
    media: str,
    key: str | None,
    use: TokenUse,
) -> StreamingResponse:
    receipt, chunks, replayed = service.stream(
        principal, body, fmt=media, idempotency_key=key, use=use
    )
    content = _ndjson(chunks) if media == NDJSON else _csv(chunks, receipt.fields)
    return StreamingResponse(content, media_type=media, headers=_receipt_headers(receipt, replayed))


async def _page_on_the_loop(
    service: ShareService,
    groups: AuditGroups,
    lane: ShareLane,
    principal: Partner,
    body: ShareRequestBody,
    limit: int,
    cursor: str | None,
    key: str | None,
    use: TokenUse,
) -> SharePage:
    """A JSON page prepared on the event loop and audited there with the other pages the loop
    has prepared meanwhile (``AuditGroups``)."""
    pending = service.prepare_page(principal, body, limit=limit, cursor=cursor, idempotency_key=key)
    if isinstance(pending, SharePage):
        return pending
    return await groups.commit(pending, use, lane)


@router.post(
    "",
    response_model=ShareResponse,
    summary="Request a share",
    responses={
        200: {
            "content": {NDJSON: {}, CSV: {}},
            "description": "Rows as JSON pages, or streamed as NDJSON or CSV (receipt in headers)",
        },
        **problem_responses(400, 401, 403, 408, 409, 413, 422, 429, 503),
    },
)
async def create_share(
    request: Request,
    body: ShareRequestBody,
    principal: AuditedPartner,
    service: Shares,
    lane: Lane,
    groups: Groups,
    idempotency_key: IdempotencyKey = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows per JSON page")] = 1000,
    cursor: Annotated[str | None, Query(max_length=2048, description="From next_cursor")] = None,
) -> ShareResponse | StreamingResponse | Response:
    """Release what the named purpose and legal basis allow, after the audit record is committed.

    Send `Accept: application/x-ndjson` or `text/csv` to stream the whole share; otherwise
    rows come as JSON pages of `limit` rows with a `next_cursor`.
    """
    accept = request.headers.get("accept", "application/json")
    media = NDJSON if NDJSON in accept else CSV if CSV in accept else None
    if media is not None:
        if cursor is not None:
            raise InvalidRequest("cursors page JSON answers; streams are never paged")
        stream = partial(
            _stream, service, principal, body, media, idempotency_key, token_use(request)
        )
        return await lane.run(stream)
    use = token_use(request)
    if lane.serves_inline(limit) and service.serves_on_event_loop():
        page = await _page_on_the_loop(
            service, groups, lane, principal, body, limit, cursor, idempotency_key, use
        )
    else:
        page = await lane.run(
            partial(
                service.share_page,
                principal,
                body,
                limit=limit,
                cursor=cursor,
                idempotency_key=idempotency_key,
                use=use,
            )
        )
    # The rows are already plain JSON values; validating them again would only copy them.
    content = {
        **page.receipt.model_dump(mode="json"),
        "rows": page.rows,
        "next_cursor": page.next_cursor,
    }
    return Response(
        orjson.dumps(content, default=iso_default),
        media_type="application/json",
        headers=_receipt_headers(page.receipt, page.replayed),
    )


@router.get(
    "/{share_id}",
    response_model=ShareReceipt,
    summary="Read a share receipt",
    responses=problem_responses(401, 403, 404, 422),
)
def read_share(share_id: str, principal: Partner, runtime: Runtime) -> ShareReceipt:
    """The receipt of a share made by the caller; any other share is 404, never 403."""
    with runtime.engine.connect() as conn:
        row = conn.execute(
            sa.select(share_receipts.c.receipt).where(
                share_receipts.c.share_id == share_id,
                share_receipts.c.partner == principal.partner_id,
            )
        ).first()
    if row is None:
        raise NotFound("no such share")
    return ShareReceipt.model_validate(row.receipt)
