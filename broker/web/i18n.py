"""Finnish, Swedish and English strings of the citizens' pages, and choosing among them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict

from broker.runtime import HELSINKI

LANGUAGES = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"


class Locale(BaseModel):
    """The strings of one language; configured names are translated by their configuration id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str
    datetime_format: str
    month_names: tuple[str, ...] = ()
    ui: Mapping[str, str]
    partners: Mapping[str, str]
    purposes: Mapping[str, str]
    legal_bases: Mapping[str, str]
    datasets: Mapping[str, str]

    def format_datetime(self, moment: datetime) -> str:
        """A moment as people in Finland read it, on Helsinki time."""
        # SQLite hands back the stored Helsinki wall time without its offset.
        local = moment.astimezone(HELSINKI) if moment.tzinfo else moment.replace(tzinfo=HELSINKI)
        month_name = self.month_names[local.month - 1] if self.month_names else ""
        return self.datetime_format.format(
            day=local.day,
            month=local.month,
            month_name=month_name,
            year=local.year,
            hour=local.hour,
            minute=local.minute,
        )


@cache
def locales() -> Mapping[str, Locale]:
    """Every language's strings, checked to offer exactly the same interface strings."""
    folder = resources.files("broker.web") / "locales"
    loaded = {
        code: Locale.model_validate(yaml.safe_load((folder / f"{code}.yaml").read_text("utf-8")))
        for code in LANGUAGES
    }
    expected = set(loaded[DEFAULT_LANGUAGE].ui)
    for code, locale in loaded.items():
        if locale.code != code or set(locale.ui) != expected:
            missing = sorted(expected ^ set(locale.ui))
            raise ValueError(f"locale {code} does not match {DEFAULT_LANGUAGE}: {missing}")
    return loaded


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """`?lang=` if it names a language we have, else the best `Accept-Language` match, else fi."""
    if requested in LANGUAGES:
        return requested
    best, best_quality = DEFAULT_LANGUAGE, 0.0
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if primary in LANGUAGES and quality > best_quality:
            best, best_quality = primary, quality
    return best
