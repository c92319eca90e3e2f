"""What the leaders' indicator page shows, in Finnish, Swedish or English.

Definitions (goals, targets, contracts, lineage) come from ``contracts.leaders``; numbers only
from an ``IndicatorRelease``, i.e. from an audited share under an agreement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Engine

from broker.indicators import IndicatorRelease
from broker.indicators.release import IndicatorPoint
from broker.web.charts import TrendChart, trend_chart
from broker.web.i18n import DEFAULT_LANGUAGE, LANGUAGES
from contracts.datasets.indicators import SEGMENTS, TOTAL
from contracts.goals import Direction, Goal, Indicator, Unit
from lineage.namespaces import STORE_NAMESPACE
from lineage.queries import DatasetRef, dataset_graph


class IndicatorLocale(BaseModel):
    """The page's strings in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    nav_link: str
    ui: Mapping[str, str]
    segments: Mapping[str, str]


@cache
def indicator_locales() -> Mapping[str, IndicatorLocale]:
    """Every language's strings, checked to offer the same strings and every segment."""
    folder = resources.files("broker.web") / "locales"
    loaded = {
        code: IndicatorLocale.model_validate(
            yaml.safe_load((folder / f"indicators.{code}.yaml").read_text("utf-8"))
        )
        for code in LANGUAGES
    }
    expected = set(loaded[DEFAULT_LANGUAGE].ui)
    for code, locale in loaded.items():
        if (
            locale.code != code
            or set(locale.ui) != expected
            or set(locale.segments) != set(SEGMENTS)
        ):
            raise ValueError(f"indicator strings in {code} do not match {DEFAULT_LANGUAGE}")
    return loaded


def nav_link_text(lang: str) -> str:
    """The footer link to the indicator page, in the page's language."""
    return indicator_locales().get(lang, indicator_locales()[DEFAULT_LANGUAGE]).nav_link


def format_number(value: float, lang: str, unit: Unit) -> str:
    """A value as readers of ``lang`` write it: decimal comma in Finnish and Swedish."""
    text = f"{value:.1f}" if unit is Unit.PERCENT else f"{value:.0f}"
    if lang in ("fi", "sv"):
        text = text.replace(".", ",")
    return f"{text} %" if unit is Unit.PERCENT else text


@dataclass(frozen=True)
class ContractLink:
    """A contract an indicator reads, linked to its catalog entry."""

    href: str
    text: str


@dataclass(frozen=True)
class TrendRow:
    """One month of the trend table."""

    month: str
    value: str
    counts: str
    target_met: str
    status: str


@dataclass(frozen=True)
class Breakdown:
    """One month by district (rows) and household segment (columns)."""

    month: str
    caption: str
    columns: list[str]
    rows: list[tuple[str, list[str]]]


@dataclass(frozen=True)
class Result:
    """The released numbers of one indicator."""

    chart: TrendChart
    chart_desc: str
    trend_caption: str
    trend: list[TrendRow]
    breakdown: Breakdown | None
    released: str
    share_id: str


@dataclass(frozen=True)
class IndicatorView:
    """One indicator: definition always, numbers when released."""

    id: str
    title: str
    description: str
    target: str
    owner: str
    contracts: list[ContractLink]
    lineage_href: str
    lineage_text: str
    upstream_job: str
    upstream: list[str]
    result: Result | None


@dataclass(frozen=True)
class GoalView:
    """A goal and its indicators."""

    id: str
    heading: str
    indicators: list[IndicatorView]


def _target(indicator: Indicator, ui: Mapping[str, str], lang: str) -> str:
    value = format_number(indicator.target.value, lang, indicator.unit)
    if indicator.unit is Unit.CHILDREN:
        value = f"{value} {ui['unit_children']}"
    key = (
        "target_at_least" if indicator.target.direction is Direction.AT_LEAST else "target_at_most"
    )
    return ui[key].format(value=value)


def _value_text(
    point: IndicatorPoint, indicator: Indicator, ui: Mapping[str, str], lang: str
) -> str:
    if point.value is not None:
        return format_number(point.value, lang, indicator.unit)
    return ui["suppressed"] if point.numerator is None or point.denominator is None else "–"


def _trend(
    indicator: Indicator, series: list[IndicatorPoint], ui: Mapping[str, str], lang: str
) -> list[TrendRow]:
    rows = []
    for point in series:
        counts = "–"
        if indicator.denominator is not None:
            shown = [
                ui["suppressed"] if n is None else str(n)
                for n in (point.numerator, point.denominator)
            ]
            counts = " / ".join(shown)
        met = (
            "–"
            if point.meets_target is None
            else ui["answer_yes" if point.meets_target else "answer_no"]
        )
        status = ui["provisional"] if point.provisional else ui["final"]
        rows.append(
            TrendRow(point.month, _value_text(point, indicator, ui, lang), counts, met, status)
        )
    return rows


def _breakdown(
    release: IndicatorRelease, locale: IndicatorLocale, lang: str, title: str
) -> Breakdown | None:
    final = [p for p in release.points if not p.provisional] or release.points
    if not final:
        return None
    month = max(p.month for p in final)
    cells = {(p.district, p.segment): p for p in release.points if p.month == month}
    districts = [TOTAL, *sorted({d for d, _ in cells if d != TOTAL})]
    rows = []
    for district in districts:
        texts = []
        for segment in SEGMENTS:
            point = cells.get((district, segment))
            texts.append(
                "–" if point is None else _value_text(point, release.indicator, locale.ui, lang)
            )
        rows.append((locale.ui["district_total"] if district == TOTAL else district, texts))
    return Breakdown(
        month=month,
        caption=locale.ui["breakdown_caption"].format(title=title, month=month),
        columns=[locale.segments[s] for s in SEGMENTS],
        rows=rows,
    )


def _result(release: IndicatorRelease, locale: IndicatorLocale, lang: str, partner: str) -> Result:
    indicator, ui = release.indicator, locale.ui
    series = release.series()
    title = indicator.title[lang]
    chart = trend_chart(
        [p.month for p in series],
        [p.value for p in series],
        [p.provisional for p in series],
        [p.meets_target for p in series],
        target=indicator.target.value,
        percent=indicator.unit is Unit.PERCENT,
    )
    published = [p for p in series if p.value is not None]
    latest = (
        f"{format_number(published[-1].value or 0, lang, indicator.unit)} ({published[-1].month})"
        if published
        else ui["latest_none"]
    )
    desc = ui["chart_desc"].format(
        first=series[0].month if series else "–",
        last=series[-1].month if series else "–",
        target=_target(indicator, ui, lang),
        latest=latest,
    )
    return Result(
        chart=chart,
        chart_desc=desc,
        trend_caption=ui["trend_caption"].format(title=title),
        trend=_trend(indicator, series, ui, lang),
        breakdown=_breakdown(release, locale, lang, title),
        released=ui["released_under"].format(partner=partner, share_id=release.share_id),
        share_id=release.share_id,
    )


def _upstream(engine: Engine, asset: str, now: datetime) -> tuple[str, list[str]]:
    start = DatasetRef(STORE_NAMESPACE, asset)
    with engine.connect() as conn:
        graph = dataset_graph(conn, start, direction="upstream", depth=1, as_of=now)
    target = f"{STORE_NAMESPACE}/{asset}"
    edges = sorted((job, source) for source, job, to in graph.edges if to == target)
    job = edges[0][0] if edges else ""
    return job, [source for _, source in edges]


def goal_views(
    goals: tuple[Goal, ...],
    lang: str,
    engine: Engine,
    now: datetime,
    releases: list[IndicatorRelease] | None = None,
    partner: str = "",
) -> list[GoalView]:
    """Every goal with its indicators; numbers only for the indicators in ``releases``."""
    locale = indicator_locales()[lang]
    ui = locale.ui
    released = {release.indicator.id: release for release in releases or []}
    views = []
    for goal in goals:
        items = []
        for indicator in goal.indicators:
            job, upstream = _upstream(engine, indicator.asset, now)
            release = released.get(indicator.id)
            items.append(
                IndicatorView(
                    id=indicator.id,
                    title=indicator.title[lang],
                    description=indicator.description[lang],
                    target=_target(indicator, ui, lang),
                    owner=indicator.owner,
                    contracts=[
                        ContractLink(
                            f"/catalog#{name}",
                            ui["contract_link"].format(name=name, version=version),
                        )
                        for name, version in indicator.reads.items()
                    ],
                    lineage_href=f"/v1/lineage/datasets/{STORE_NAMESPACE}/{indicator.asset}",
                    lineage_text=ui["lineage_api"].format(asset=indicator.asset),
                    upstream_job=ui["upstream"].format(job=job) if job else ui["no_lineage"],
                    upstream=upstream,
                    result=_result(release, locale, lang, partner) if release else None,
                )
            )
        views.append(
            GoalView(goal.id, ui["goal_heading"].format(statement=goal.statement[lang]), items)
        )
    return views
