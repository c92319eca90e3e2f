"""Pseudonymisation against a plain HMAC loop; the audit hash chain against plain inserts."""

from __future__ import annotations

import hashlib
import hmac
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

import broker.audit as audit
from benchmarks.harness import Result, paired_medians
from broker.audit.cli import DEFAULT_JOBS
from broker.audit.verify import PARALLEL_FROM, verify_chain_parallel
from broker.privacy.pseudonym import Pseudonymiser
from contracts.store import make_engine
from tillit.migrations import upgrade

KEY = b"k" * 32
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def identity_codes(count: int) -> list[str]:
    """Distinct henkilötunnus-shaped strings: every value is hashed (no repeats to reuse)."""
    codes = [
        f"{i % 28 + 1:02d}{i % 12 + 1:02d}{i // 336 % 90 + 10:02d}-{i:07d}"[:11]
        for i in range(count)
    ]
    return [f"{code}{i}" for i, code in enumerate(codes)]


def pseudonymise_vs_hmac(quick: bool) -> Result:
    count = 100_000 if quick else 1_000_000
    values = identity_codes(count)
    pseudonymiser = Pseudonymiser(KEY)

    def plain() -> list[str]:
        return [hmac.new(KEY, v.encode(), hashlib.sha256).hexdigest() for v in values]

    assert pseudonymiser.pseudonymise(values[:5]) == [
        hmac.new(KEY, v.encode(), hashlib.sha256).hexdigest() for v in values[:5]
    ]
    repeat = 3 if quick else 5
    ours, baseline = paired_medians(lambda: pseudonymiser.pseudonymise(values), plain, repeat)
    return Result(
        "pseudonymise_vs_hmac",
        f"{count:,} distinct identity codes (a column as the broker holds it: a list); "
        f"median of {repeat}",
        ours,
        baseline,
        "s",
        "ratio ≤ 0.65",
        limit=0.65,
    )


def entry(number: int) -> audit.AuditEntry:
    """A permit as the broker records it for a share."""
    return audit.AuditEntry(
        share_id=f"share-{number:09d}",
        partner="lahti-education",
        issuer="https://idp.lahti.fi/education",
        jti=f"jti-{number:09d}",
        subject_kind="partner",
        dataset="persons",
        purpose="ece_placement",
        legal_basis="ece_act_540_2018",
        decision="permit",
        reasons=["permitted"],
        agreement_id="lahti-education-ece-placement",
        agreement_version="1.0.0",
        contract_version="1.0.0",
        fields_released=["person_id", "birth_date", "municipality_code", "postal_code"],
        row_count=1000,
        request_digest=hashlib.sha256(str(number).encode()).hexdigest(),
    )


@contextmanager
def fresh_store() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="tillit-bench-audit-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'audit.db'}")
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def _appends_per_second(count: int) -> float:
    entries = [entry(n) for n in range(count)]
    with fresh_store() as engine:
        start = time.perf_counter()
        for number, item in enumerate(entries):
            with audit.audit_transaction(engine) as conn:
                audit.append(conn, item, START + timedelta(seconds=number))
        return count / (time.perf_counter() - start)


def _plain_inserts_per_second(count: int) -> float:
    rows = []
    for number in range(count):
        row = entry(number).columns()
        row.update(
            seq=number + 1,
            recorded_at=START + timedelta(seconds=number),
            prev_hash="0" * 64,
            hash=row["request_digest"],
        )
        rows.append(row)
    insert = audit.audit_log.insert()
    with fresh_store() as engine:
        start = time.perf_counter()
        for row in rows:
            with engine.begin() as conn:
                conn.execute(insert, row)
        return count / (time.perf_counter() - start)


def audit_chain_vs_plain(quick: bool) -> Result:
    count, repeat = (1000, 3) if quick else (5000, 5)
    # Alternately, so that a change in the machine's load falls on both sides alike.
    pairs = [(_appends_per_second(count), _plain_inserts_per_second(count)) for _ in range(repeat)]
    ours = statistics.median(pair[0] for pair in pairs)
    baseline = statistics.median(pair[1] for pair in pairs)
    return Result(
        "audit_chain_vs_plain",
        f"{count:,} records, one transaction each (as one per share), SQLite WAL; "
        f"median of {repeat}",
        ours,
        baseline,
        "records/s",
        "ratio ≥ 0.8",
        direction="higher",
        limit=0.8,
    )


def audit_verify_vs_write(quick: bool) -> Result:
    count = 20_000 if quick else 1_000_000
    batch = 10_000
    with fresh_store() as engine:
        start = time.perf_counter()
        for first in range(0, count, batch):
            with audit.audit_transaction(engine) as conn:
                for number in range(first, min(count, first + batch)):
                    audit.append(conn, entry(number), START + timedelta(seconds=number))
        write = time.perf_counter() - start
        # What `tillit audit verify` runs: stretches of the chain in DEFAULT_JOBS processes
        # (one walk in this process below PARALLEL_FROM records, as in the quick run).
        url = engine.url.render_as_string(hide_password=False)
        verifies = []
        for _ in range(3):
            start = time.perf_counter()
            report = verify_chain_parallel(url, jobs=DEFAULT_JOBS)
            verifies.append(time.perf_counter() - start)
            assert report.ok and report.length == count
    return Result(
        "audit_verify_vs_write",
        f"{count:,} chained records on SQLite, written by append in transactions of "
        f"{batch:,}; verified as `tillit audit verify` does ({DEFAULT_JOBS} processes from "
        f"{PARALLEL_FROM:,} records, process start-up included); median of 3",
        sorted(verifies)[1],
        write,
        "s",
        "ratio ≤ 0.2",
        limit=0.2,
    )
