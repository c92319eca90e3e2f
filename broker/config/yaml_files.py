"""Strict YAML reading for configuration files: duplicate keys and bad shapes are errors."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from broker.errors import ConfigurationError

ModelT = TypeVar("ModelT", bound=BaseModel)
MAX_CONFIG_BYTES = 1024 * 1024


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of silently keeping the last."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def read_yaml(path: Path) -> Any:
    """Read one YAML document, naming the file in any error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(path, "file not found") from None
    except OSError as exc:
        raise ConfigurationError(path, f"cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigurationError(path, f"larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigurationError(path, f"not valid YAML: {exc}") from None


def read_section(path: Path, key: str) -> list[Any]:
    """Read a file whose only top-level key is `key`, holding a list."""
    document = read_yaml(path)
    if not isinstance(document, dict) or set(document) != {key}:
        raise ConfigurationError(path, f"expected exactly one top-level key {key!r}")
    items = document[key]
    if not isinstance(items, list):
        raise ConfigurationError(path, f"{key!r} must be a list")
    return items


def describe_validation_error(exc: ValidationError, prefix: str) -> str:
    """Summarise pydantic errors as `where: what` lines a configuration author can act on."""
    lines = []
    for error in exc.errors(include_url=False)[:5]:
        where = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        given = error.get("input")
        # Echo short scalar inputs so the author sees which value was refused.
        shown = (
            f" (got {given!r})"
            if isinstance(given, str | int | float) and len(str(given)) < 80
            else ""
        )
        lines.append(f"{where}: {error['msg']}{shown}")
    extra = len(exc.errors()) - len(lines)
    if extra > 0:
        lines.append(f"... and {extra} more")
    return "; ".join(lines)


def validate_items(path: Path, key: str, model: type[ModelT]) -> dict[str, ModelT]:
    """Validate each list item of a section as `model`, keyed by its unique `id`."""
    by_id: dict[str, ModelT] = {}
    for position, item in enumerate(read_section(path, key)):
        label = f"{key}[{position}]"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            label = f"{key}[{item['id']}]"
        try:
            parsed = model.model_validate(item)
        except ValidationError as exc:
            raise ConfigurationError(path, describe_validation_error(exc, label)) from None
        # Validation succeeded, so the item is a mapping with a string id.
        item_id = str(item["id"])
        if item_id in by_id:
            raise ConfigurationError(path, f"duplicate id {item_id!r}")
        by_id[item_id] = parsed
    return by_id
