"""Indicators for leaders, released through the share path: policy, audit, lineage."""

from broker.indicators.release import IndicatorRelease, release_indicators

__all__ = ["IndicatorRelease", "release_indicators"]
