"""Shared pieces of the policy engine tests: a fixed moment and the demo index."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from broker.policy import AgreementIndex, Decision, ShareRequest, evaluate
from tests.broker.conftest import DemoEnvironment

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=HELSINKI)


def at(day: str) -> datetime:
    """Noon in Helsinki on an ISO day."""
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), HELSINKI).replace(hour=12)


def decide(
    demo: DemoEnvironment, request: ShareRequest, now: datetime = NOW, **kw: Any
) -> Decision:
    """Evaluate a request against the demo configuration."""
    config = demo.config
    index = AgreementIndex.build(config.agreements)
    return evaluate(request, index, config.purposes, config.datasets, now, **kw)


EDU = "lahti-education"
PHHYKY = "phhyky-family-services"
ANALYTICS = "lahti-analytics"
ECE_ACT = "ece_act_540_2018"
BASIC_ED = "basic_education_act_628_1998"
INFO_MGMT = "information_management_act_906_2019"
