"""The share flow: decide, read, transform, audit (committed), and only then release."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from broker.audit import (
    request_digest,
)
from broker.auth.principal import Principal
from broker.auth.verifier import TokenUse
from broker.errors import Conflict, InvalidRequest, PolicyDenied
from broker.mydata.consents import ConsentService
from broker.policy.engine import evaluate
from broker.policy.model import Decision, Obligations, ShareRequest
from broker.privacy import (
    Columns,
    Pseudonymiser,
    aggregate_counts,
    apply_transforms,
    derive_partner_key,
)
from broker.runtime import BrokerRuntime
from broker.sharing.cursor import CursorCodec
from broker.sharing.models import ShareReceipt, ShareRequestBody
from broker.sharing.recording import (
    AuditTransactionLost,
    PreparedPermit,
    ShareRecorder,
    unwritable,
)
from broker.store import rows as store_rows
from broker.store.disclosures import pack_subject_keys
from broker.store.subjects import SubjectKeys, subject_index_key
from broker.store.tables import share_receipts, subject_restrictions
from contracts.base import Contract
from contracts.store import snapshot_reader

MAX_PAGE = 10_000
# Counts are tabulated by one field or cross-tabulated by two (with row and column totals).
MAX_AGGREGATE_DIMENSIONS = 2
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingPage:
    """A JSON page decided, read and transformed, waiting for its audit transaction
    (``ShareService.commit_page``); a refused request waits there for its audit record."""

    principal: Principal
    body: ShareRequestBody
    digest: str
    decision: Decision
    permit: PreparedPermit | None = None
    released: Columns | None = None
    keys: list[str | None] | None = None
    hidden_days: int = 0
    next_cursor: str | None = None


@dataclass(frozen=True)
class SharePage:
    """A permitted share's receipt and the rows of its page (dates as ``date`` objects, which
    orjson writes in ISO 8601)."""

    receipt: ShareReceipt
    rows: list[dict[str, Any]]
    next_cursor: str | None
    replayed: bool = False


def share_digest(body: ShareRequestBody, extra: Mapping[str, Any]) -> str:
    """Digest of the canonical request, as stored in the audit log and used for idempotency."""
    return request_digest({"body": body.model_dump(mode="json"), **extra})


class ShareService:
    """Serves share requests for one broker runtime."""

    def __init__(self, runtime: BrokerRuntime) -> None:
        self.runtime = runtime
        self._subjects = SubjectKeys(subject_index_key(runtime.secrets.pseudonym_key))
        self._cursors = CursorCodec(runtime.secrets.pseudonym_key)
        self._pages = store_rows.PageQueries()
        self.recorder = ShareRecorder(runtime)
        self.consents = ConsentService(runtime, self.recorder)

    def serves_on_event_loop(self) -> bool:
        """Whether a page may be prepared on the event loop now: the store is SQLite (where
        reads never wait for writers) and a checkout cannot wait for another thread to give a
        connection back, because one is idle or fewer than the pool's size are in use (so a
        new one is opened). Background work holding connections while it waits for the write
        turn leaves the pool able to open more."""
        engine = self.runtime.engine
        if engine.dialect.name != "sqlite":
            return False
        pool = engine.pool
        if not isinstance(pool, QueuePool):
            return True
        return pool.checkedin() > 0 or pool.checkedout() < pool.size()

    # -- deciding -------------------------------------------------------------------------

    def _restricted_subjects(self) -> frozenset[str]:
        with self.runtime.engine.connect() as conn:
            keys = conn.execute(sa.select(subject_restrictions.c.subject_key)).scalars()
            return frozenset(keys)

    def decide(self, principal: Principal, body: ShareRequestBody) -> Decision:
        """The policy decision for a request (pure engine, current Helsinki time)."""
        request = ShareRequest(
            partner=principal.partner_id,
            dataset=body.dataset,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            fields=tuple(body.fields) if body.fields is not None else None,
            filters=dict(body.filters or {}),
        )
        cfg = self.runtime.config
        # A mandatory purpose (a legal obligation) is not excluded by objections, so the
        # restrictions are only read for purposes a citizen can object to.
        purpose = cfg.purposes.get(body.purpose)
        objectionable = purpose is not None and not purpose.mandatory
        return evaluate(
            request,
            self.runtime.index,
            cfg.purposes,
            self.runtime.datasets,
            self.runtime.now(),
            restrictions=self._restricted_subjects() if objectionable else (),
            consents=self.consents.records_for(request),
        )

    def deny(
        self,
        principal: Principal,
        body: ShareRequestBody,
        decision: Decision,
        digest: str,
        use: TokenUse | None = None,
    ) -> PolicyDenied:
        """Record a denial in the audit log and return the error to raise."""
        with self.recorder.audited(use) as conn:
            return self._record_refusal(conn, principal, body, decision, digest)

    def _record_refusal(
        self,
        conn: Connection,
        principal: Principal,
        body: ShareRequestBody,
        decision: Decision,
        digest: str,
    ) -> PolicyDenied:
        """Append a refusal to the open audit transaction; the error it is answered with."""
        self.recorder.append(conn, self.recorder.entry(principal, body, decision, digest))
        reason = decision.reasons[0]
        return PolicyDenied(reason.code, reason.detail)

    # -- idempotency ----------------------------------------------------------------------

    def replay(self, principal: Principal, key: str, digest: str) -> ShareReceipt | None:
        """The receipt of an earlier request with the same key; 409 if its body differed."""
        with self.runtime.engine.connect() as conn:
            row = conn.execute(
                sa.select(share_receipts.c.receipt, share_receipts.c.request_digest).where(
                    share_receipts.c.partner == principal.partner_id,
                    share_receipts.c.idempotency_key == key,
                )
            ).first()
        if row is None:
            return None
        if row.request_digest != digest:
            raise Conflict("this Idempotency-Key was used with a different request")
        return ShareReceipt.model_validate(row.receipt)

    # -- releasing ------------------------------------------------------------------------

    def _permitted(
        self, principal: Principal, body: ShareRequestBody, digest: str, use: TokenUse | None
    ) -> tuple[Decision, Obligations, Contract, list[Any]]:
        """Decide a share; refuse it (audited) or return what it may release and which rows."""
        decision = self.decide(principal, body)
        if not decision.allowed:
            raise self.deny(principal, body, decision, digest, use)
        return (decision, *self._obligations(decision, body))

    def _obligations(
        self, decision: Decision, body: ShareRequestBody
    ) -> tuple[Obligations, Contract, list[Any]]:
        """What a permit obliges, the dataset's contract, and the conditions on its rows."""
        obligations = decision.obligations
        assert obligations is not None  # noqa: S101
        _check_aggregate_shape(obligations)
        contract = self.runtime.contracts[body.dataset]
        return obligations, contract, self._criteria(contract, obligations, body)

    def _criteria(
        self, contract: Contract, obligations: Obligations, body: ShareRequestBody
    ) -> list[Any]:
        criteria = store_rows.conditions(contract, obligations.row_scope)
        criteria += store_rows.conditions(contract, dict(body.filters or {}))
        if obligations.consenting_subjects is not None:
            criteria.append(self.consents.rows_of(contract, obligations.consenting_subjects))
        return criteria

    def _subject_keys(self, contract: Contract, rows: Columns) -> list[str | None]:
        field = store_rows.subject_field(contract)
        if field is None or field not in rows:
            return [None] * store_rows.row_count(rows)
        return self._subjects.keys(rows[field])

    def release(
        self,
        principal: Principal,
        body: ShareRequestBody,
        obligations: Obligations,
        rows: Columns,
        *,
        with_keys: bool = True,
    ) -> tuple[Columns, list[str | None]]:
        """Drop objecting subjects' rows, then transform: the rows exactly as they will leave.

        Also returns the released rows' subject keys, unless ``with_keys`` is False (then only
        computed where objections need them)."""
        contract = self.runtime.contracts[body.dataset]
        keys: list[str | None] = []
        if with_keys or obligations.limits_subjects:
            keys = self._subject_keys(contract, rows)
        if obligations.limits_subjects:
            keep = [obligations.admits(key) for key in keys]
            rows = {
                name: [value for value, kept in zip(values, keep, strict=True) if kept]
                for name, values in rows.items()
            }
            keys = [key for key, kept in zip(keys, keep, strict=True) if kept]
        pseudonymiser = Pseudonymiser(
            derive_partner_key(
                self.runtime.secrets.pseudonym_key, principal.partner_id, body.purpose
            )
        )
        released = apply_transforms(
            {name: rows[name] for name in obligations.fields_released},
            obligations.transforms,
            pseudonymiser=pseudonymiser,
            as_of=self.runtime.now().date(),
        )
        if obligations.aggregate_only:
            frame = pd.DataFrame({n: pd.Series(v, dtype=object) for n, v in released.items()})
            counts = aggregate_counts(frame, list(released), obligations.min_cell_size)
            return store_rows.columns_of(counts), []
        return released, keys

    def share_page(
        self,
        principal: Principal,
        body: ShareRequestBody,
        *,
        limit: int,
        cursor: str | None,
        idempotency_key: str | None,
        use: TokenUse | None = None,
    ) -> SharePage:
        """Serve one JSON page of a share, audited before it is returned (spending the
        request's token `use` in the audit transaction, when given)."""
        pending = self.prepare_page(
            principal, body, limit=limit, cursor=cursor, idempotency_key=idempotency_key
        )
        if isinstance(pending, SharePage):
            return pending
        return self.commit_page(pending, use)

    def prepare_page(
        self,
        principal: Principal,
        body: ShareRequestBody,
        *,
        limit: int,
        cursor: str | None,
        idempotency_key: str | None,
    ) -> PendingPage | SharePage:
        """Everything a JSON page does before its audit transaction, writing nothing: the
        decision, the rows and their release. An idempotent replay is answered at once."""
        digest = share_digest(body, {"limit": limit, "cursor": cursor})
        if idempotency_key is not None:
            earlier = self.replay(principal, idempotency_key, digest)
            if earlier is not None:
                return SharePage(earlier, [], None, replayed=True)
        decision = self.decide(principal, body)
        if not decision.allowed:
            return PendingPage(principal, body, digest, decision)
        obligations, contract, criteria = self._obligations(decision, body)
        page_limit = min(limit, obligations.max_rows or limit)
        after = None
        if cursor is not None:
            after = self._cursors.decode(cursor, principal.partner_id, body.dataset)
        rows, next_key = self._read_page(
            contract, obligations, criteria, after, page_limit, dict(body.filters or {})
        )
        released, keys = self.release(principal, body, obligations, rows)
        permit = self.recorder.prepare_permit(
            principal, body, decision, digest, released, idempotency_key
        )
        next_cursor = None
        if next_key is not None:
            next_cursor = self._cursors.encode(principal.partner_id, body.dataset, next_key)
        return PendingPage(
            principal,
            body,
            digest,
            decision,
            permit,
            released,
            keys,
            obligations.hidden_until_days,
            next_cursor,
        )

    def commit_page(self, pending: PendingPage, use: TokenUse | None = None) -> SharePage:
        """Record a prepared page in the audit log, then return it (a refusal: record it and
        raise)."""
        with self.recorder.audited(use) as conn:
            recorded = self._record_page(conn, pending)
        if isinstance(recorded, PolicyDenied):
            raise recorded
        return self._page(pending, recorded)

    def commit_pages(
        self, group: Sequence[tuple[PendingPage, TokenUse | None]], *, wait: bool = True
    ) -> list[SharePage | Exception]:
        """Record prepared pages in one audit transaction, one write turn and one commit for
        all of them; each page's page, or the error its request gets.

        Each page spends its token and writes its records under a savepoint of its own: a page
        that fails (a replayed token, an idempotency key taken meanwhile) takes back only what
        it wrote and gets its own error, and the others are committed together. Nothing is
        returned before the commit: a transaction that fails or does not commit fails every
        page of the group with 503, none released. Without `wait`, WriteTurnBusy is raised
        before anything is written."""
        recorded: list[ShareReceipt | PolicyDenied | Exception] = []
        with self.recorder.audited(wait=wait) as conn:
            for pending, use in group:
                try:
                    with self.recorder.apart(conn):
                        if use is not None:
                            use.spend_in(conn)
                        recorded.append(self._record_page(conn, pending))
                except AuditTransactionLost:
                    raise
                except SQLAlchemyError as error:
                    logger.error("audit record not written, nothing released: %s", error)
                    recorded.append(unwritable(error))
                except Exception as error:  # this page's own failure; the others go on
                    recorded.append(error)
        return [
            self._page(pending, outcome) if isinstance(outcome, ShareReceipt) else outcome
            for (pending, _use), outcome in zip(group, recorded, strict=True)
        ]

    def _record_page(self, conn: Connection, pending: PendingPage) -> ShareReceipt | PolicyDenied:
        """Write a prepared page's records in the open audit transaction: a permit's receipt
        and disclosures, or a refusal (returned, to be raised once committed)."""
        principal, body = pending.principal, pending.body
        if pending.permit is None:
            return self._record_refusal(conn, principal, body, pending.decision, pending.digest)
        assert pending.keys is not None  # noqa: S101
        receipt = self.recorder.record_permit(conn, pending.permit)
        self.recorder.record_disclosures(
            conn, principal, receipt, [pack_subject_keys(pending.keys)], pending.hidden_days
        )
        return receipt

    def _page(self, pending: PendingPage, receipt: ShareReceipt) -> SharePage:
        """A recorded page as it leaves (built once its audit transaction has committed)."""
        assert pending.released is not None  # noqa: S101
        return SharePage(receipt, store_rows.row_dicts(pending.released), pending.next_cursor)

    def _read_page(
        self,
        contract: Contract,
        obligations: Obligations,
        criteria: list[Any],
        after: list[Any] | None,
        limit: int,
        filters: dict[str, store_rows.FilterValue] | None = None,
    ) -> tuple[Columns, list[Any] | None]:
        """A page of rows meeting `criteria` after the key `after`, and the next page's key.

        Given the request's `filters` (from which, with the row scope, `criteria` were built),
        and unless consents choose the rows, the query is the page queries' own, built once
        for its shape."""
        if obligations.aggregate_only:
            columns = list(obligations.fields_released)
            query = store_rows.select_rows(contract, columns, criteria)
            with self.runtime.engine.connect() as conn:
                result = conn.execute(query)
                return store_rows.columns_from(result, result.fetchall()), None
        columns = store_rows.columns_needed(contract, obligations.fields_released)
        if filters is not None and obligations.consenting_subjects is None:
            equalities = [*obligations.row_scope.items(), *filters.items()]
            query, params = self._pages.query(
                contract, columns, equalities, after=after, limit=limit + 1
            )
        else:
            query = store_rows.select_rows(
                contract, columns, criteria, after=after, limit=limit + 1
            )
            params = {}
        with self.runtime.engine.connect() as conn:
            result = conn.execute(query, params)
            rows = store_rows.columns_from(result, result.fetchall())
        if store_rows.row_count(rows) <= limit:
            return rows, None
        rows = {name: values[:limit] for name, values in rows.items()}
        return rows, [str(rows[name][-1]) for name in contract.primary_key]

    def _released_subjects(
        self,
        conn: Connection,
        contract: Contract,
        obligations: Obligations,
        criteria: list[Any],
        chunk_size: int,
    ) -> tuple[int, list[bytes]]:
        """How many rows a whole share releases, and their subjects' keys packed in batches
        (``pack_subject_keys``) of at most ``chunk_size``: objecting subjects' rows are left
        out, as the stream leaves them out."""
        field = store_rows.subject_field(contract)
        if field is None:
            return store_rows.count_rows(conn, contract, criteria), []
        query = store_rows.select_rows(contract, [field], criteria)
        total, batches = 0, []
        for rows in store_rows.iter_columns(conn, query, chunk_size):
            keys = self._subject_keys(contract, rows)
            if obligations.limits_subjects:
                keys = [key for key in keys if obligations.admits(key)]
            total += len(keys)
            batches.append(pack_subject_keys(keys))
        return total, batches

    def stream(
        self,
        principal: Principal,
        body: ShareRequestBody,
        *,
        fmt: str,
        idempotency_key: str | None,
        chunk_size: int = 5_000,
        use: TokenUse | None = None,
    ) -> tuple[ShareReceipt, Iterator[Columns], bool]:
        """Audit a whole share, then yield its rows in chunks, recording disclosures first."""
        digest = share_digest(body, {"format": fmt})
        if idempotency_key is not None:
            earlier = self.replay(principal, idempotency_key, digest)
            if earlier is not None:
                return earlier, iter(()), True
        decision, obligations, contract, criteria = self._permitted(principal, body, digest, use)
        if obligations.aggregate_only:
            rows, _ = self._read_page(contract, obligations, criteria, None, 0)
            released, _keys = self.release(principal, body, obligations, rows)
            permit = self.recorder.prepare_permit(
                principal, body, decision, digest, released, idempotency_key
            )
            with self.recorder.audited(use) as conn:
                receipt = self.recorder.record_permit(conn, permit)
            return receipt, iter([released]), False
        # One snapshot for the whole share: the subjects recorded are those of the rows sent.
        reader = snapshot_reader(self.runtime.engine)
        try:
            total, subjects = self._released_subjects(
                reader, contract, obligations, criteria, chunk_size
            )
            if obligations.max_rows is not None and total > obligations.max_rows:
                denial = _too_many(decision, total, obligations.max_rows)
                raise self.deny(principal, body, denial, digest, use)
            empty = self.release(principal, body, obligations, _no_rows(contract, obligations))[0]
            permit = self.recorder.prepare_permit(
                principal, body, decision, digest, empty, idempotency_key, total
            )
            with self.recorder.audited(use) as conn:
                receipt = self.recorder.record_permit(conn, permit)
                self.recorder.record_disclosures(
                    conn, principal, receipt, subjects, obligations.hidden_until_days
                )
        except BaseException:
            reader.close()
            raise
        columns = store_rows.columns_needed(contract, obligations.fields_released)
        query = store_rows.select_rows(contract, columns, criteria)
        return (
            receipt,
            self._chunks(reader, principal, body, obligations, query, chunk_size),
            False,
        )

    def _chunks(
        self,
        reader: Connection,
        principal: Principal,
        body: ShareRequestBody,
        obligations: Obligations,
        query: sa.Select[Any],
        chunk_size: int,
    ) -> Iterator[Columns]:
        """The rows of an audited share, transformed; its disclosures are already recorded."""
        try:
            for rows in store_rows.iter_columns(reader, query, chunk_size):
                yield self.release(principal, body, obligations, rows, with_keys=False)[0]
        finally:
            reader.close()


def _check_aggregate_shape(obligations: Obligations) -> None:
    """An aggregate is counted by one or two of the agreement's fields, named in `fields`."""
    dimensions = len(obligations.fields_released)
    if obligations.aggregate_only and dimensions > MAX_AGGREGATE_DIMENSIONS:
        raise InvalidRequest(
            f"aggregate-only agreements release counts by one or two fields; this request "
            f"would count by {dimensions}: name one or two of them in `fields`"
        )


def _too_many(decision: Decision, total: int, limit: int) -> Decision:
    from broker.policy.model import Reason, deny

    detail = f"the share would release {total} rows; the agreement allows {limit}"
    return replace(
        deny(Reason("row_limit_exceeded", detail)), matched_agreements=decision.matched_agreements
    )


def _no_rows(contract: Contract, obligations: Obligations) -> Columns:
    return {name: [] for name in store_rows.columns_needed(contract, obligations.fields_released)}
