"""Pseudonymisation against a plain HMAC loop; the audit hash chain against plain inserts."""

from __future__ import annotations

import gc
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


class _Appends:
    """Chained appends, each in its own audit transaction, numbered on from the last block."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, first: int, count: int) -> float:
        entries = [entry(n) for n in range(first, first + count)]
        engine = self.engine
        gc.collect()
        start = time.perf_counter()
        for number, item in enumerate(entries, start=first):
            with audit.audit_transaction(engine) as conn:
                audit.append(conn, item, START + timedelta(seconds=number))
        return time.perf_counter() - start


class _PlainInserts:
    """The same records as plain inserts, one transaction each, without the chain."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.insert = audit.audit_log.insert()

    def run(self, first: int, count: int) -> float:
        rows = []
        for number in range(first, first + count):
            row = entry(number).columns()
            row.update(
                seq=number + 1,
                recorded_at=START + timedelta(seconds=number),
                prev_hash="0" * 64,
                hash=row["request_digest"],
            )
            rows.append(row)
        engine, insert = self.engine, self.insert
        gc.collect()
        start = time.perf_counter()
        for row in rows:
            with engine.begin() as conn:
                conn.execute(insert, row)
        return time.perf_counter() - start


def audit_chain_vs_plain(quick: bool) -> Result:
    count, block = (3000, 100) if quick else (25_000, 250)
    blocks = count // block
    with fresh_store() as chained, fresh_store() as plain:
        appends = _Appends(chained)
        inserts = _PlainInserts(plain)
        appends.run(0, block)  # warm-up: statement caches, first pages of each file
        inserts.run(0, block)
        # Small blocks, alternately and in alternating order, so that the machine's disk and
        # load (a write-ahead-log checkpoint, a neighbour's burst) fall on both sides alike;
        # the median block then leaves such bursts out of both.
        times: tuple[list[float], list[float]] = ([], [])
        for number in range(blocks):
            first = (number + 1) * block
            pair = ((appends, times[0]), (inserts, times[1]))
            for side, samples in pair if number % 2 == 0 else reversed(pair):
                samples.append(side.run(first, block))
    ours = block / statistics.median(times[0])
    baseline = block / statistics.median(times[1])
    return Result(
        "audit_chain_vs_plain",
        f"{count:,} records a side, one transaction each (as one per share), SQLite WAL; two "
        f"stores side by side, written alternately in blocks of {block}; median block",
        ours,
        baseline,
        "records/s",
        "ratio ≥ 0.8",
        direction="higher",
        limit=0.8,
        extra={
            "ours_p90_block_ms": round(statistics.quantiles(times[0], n=10)[-1] * 1e3, 1),
            "baseline_p90_block_ms": round(statistics.quantiles(times[1], n=10)[-1] * 1e3, 1),
        },
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
