"""Releasing indicators: each indicator asset is one share, decided by the policy engine and
written to the audit log (with its lineage event) before any number leaves.

There is no separate access path: the page and the JSON endpoint both call
``release_indicators``, which asks ``ShareService.stream`` for the asset's dataset exactly as a
``POST /v1/shares`` would, so the agreement, the purpose's legal bases and its compatibility
with the purposes of collection decide, and a denial is audited too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from broker.auth.principal import Principal
from broker.privacy.generalise import is_missing
from broker.sharing.models import ShareRequestBody
from broker.sharing.service import ShareService
from broker.store.rows import json_rows
from contracts.goals import Indicator
from contracts.leaders import goal_of

# The columns of an indicator asset the releases need; counts are chosen per indicator.
KEYS = ("month", "district", "segment", "provisional")
STREAM_FORMAT = "indicators"


@dataclass(frozen=True)
class IndicatorPoint:
    """One published value of an indicator: a month, a district and a household segment."""

    month: str
    district: str
    segment: str
    value: float | None
    numerator: int | None
    denominator: int | None
    provisional: bool
    meets_target: bool | None


@dataclass(frozen=True)
class IndicatorRelease:
    """An indicator's definition and its released values, with the share that released them."""

    indicator: Indicator
    goal_id: str | None
    share_id: str
    points: list[IndicatorPoint]

    def series(self, district: str = "Total", segment: str = "Total") -> list[IndicatorPoint]:
        """The monthly trend of one district and segment, oldest month first."""
        chosen = [p for p in self.points if p.district == district and p.segment == segment]
        return sorted(chosen, key=lambda point: point.month)


def _count(value: Any) -> int | None:
    return None if is_missing(value) else int(value)


def _points(indicator: Indicator, records: list[dict[str, Any]]) -> list[IndicatorPoint]:
    points = []
    for row in records:
        # A count the agreement withholds is missing from the frame: shown as suppressed.
        numerator = _count(row.get(indicator.numerator))
        denominator = _count(row.get(indicator.denominator)) if indicator.denominator else None
        value = indicator.value(numerator, denominator)
        points.append(
            IndicatorPoint(
                month=str(row["month"]),
                district=str(row["district"]),
                segment=str(row["segment"]),
                value=value,
                numerator=numerator,
                denominator=denominator,
                provisional=bool(row["provisional"]),
                meets_target=None if value is None else indicator.target.met_by(value),
            )
        )
    return sorted(points, key=lambda p: (p.month, p.district, p.segment))


def _fields(indicators: Sequence[Indicator]) -> list[str]:
    counts = [i.numerator for i in indicators] + [
        i.denominator for i in indicators if i.denominator
    ]
    return [*KEYS, *dict.fromkeys(counts)]


def release_indicators(
    shares: ShareService,
    principal: Principal,
    indicators: Sequence[Indicator],
    *,
    purpose: str,
    legal_basis: str,
) -> list[IndicatorRelease]:
    """Release the indicators' assets to a partner, one audited share per asset.

    Raises PolicyDenied (audited) for the first asset the partner may not receive: a partner
    receives all the indicators it asked for or none."""
    releases: list[IndicatorRelease] = []
    by_asset: dict[str, list[Indicator]] = {}
    for indicator in indicators:
        by_asset.setdefault(indicator.asset, []).append(indicator)
    for asset, members in by_asset.items():
        body = ShareRequestBody(
            dataset=asset, purpose=purpose, legal_basis=legal_basis, fields=_fields(members)
        )
        receipt, chunks, _ = shares.stream(principal, body, fmt=STREAM_FORMAT, idempotency_key=None)
        records = [row for chunk in chunks for row in json_rows(chunk)]
        for indicator in members:
            goal = goal_of(indicator)
            releases.append(
                IndicatorRelease(
                    indicator=indicator,
                    goal_id=goal.id if goal else None,
                    share_id=receipt.share_id,
                    points=_points(indicator, records),
                )
            )
    order = {indicator.id: index for index, indicator in enumerate(indicators)}
    return sorted(releases, key=lambda release: order[release.indicator.id])
