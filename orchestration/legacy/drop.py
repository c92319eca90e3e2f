"""A legacy extract drop: its metadata (drop.json) and the manifest of injected defects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

POPULATION_REGISTER = "population_register"
EARLY_CHILDHOOD_EDUCATION = "early_childhood_education"
SCHOOL_ENROLMENT = "school_enrolment"
FAMILY_SERVICES = "family_services"
SYSTEMS = (POPULATION_REGISTER, EARLY_CHILDHOOD_EDUCATION, SCHOOL_ENROLMENT, FAMILY_SERVICES)

FILES: dict[str, str] = {
    POPULATION_REGISTER: "population_register/VTJ_OTE.txt",
    EARLY_CHILDHOOD_EDUCATION: "early_childhood_education/varhaiskasvatus.db",
    SCHOOL_ENROLMENT: "school_enrolment/ilmoittautumiset.xml",
    FAMILY_SERVICES: "family_services/perhepalvelut.csv",
}
DROP_FILE = "drop.json"
MANIFEST_FILE = "manifest.jsonl"


@dataclass(frozen=True)
class DropInfo:
    """Metadata of one extract drop, as written to drop.json."""

    drop_id: str
    as_of: date
    extracted_at: datetime
    people: int
    seed: int
    defect_rate: float
    files: dict[str, str]


@dataclass(frozen=True)
class InjectedDefect:
    """One defect the generator injected on purpose, and the contract check that must catch it."""

    system: str
    source_ref: str
    defect: str
    column: str
    expected_check: str
    value: str | None


def make_drop_info(*, people: int, seed: int, defect_rate: float, as_of: date) -> DropInfo:
    """Describe a drop; its id is a hash of the arguments that determine its content."""
    key = f"seed={seed};people={people};defect_rate={defect_rate!r};as_of={as_of.isoformat()}"
    return DropInfo(
        drop_id=hashlib.sha256(key.encode()).hexdigest()[:16],
        as_of=as_of,
        extracted_at=datetime.combine(as_of, time(2, 0), tzinfo=UTC),
        people=people,
        seed=seed,
        defect_rate=defect_rate,
        files=dict(FILES),
    )


def write_drop_info(legacy_dir: Path, info: DropInfo) -> None:
    """Write drop.json."""
    payload = {
        "drop_id": info.drop_id,
        "as_of": info.as_of.isoformat(),
        "extracted_at": info.extracted_at.isoformat(),
        "people": info.people,
        "seed": info.seed,
        "defect_rate": info.defect_rate,
        "files": info.files,
    }
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    (legacy_dir / DROP_FILE).write_text(text, encoding="utf-8")


def read_drop_info(legacy_dir: Path) -> DropInfo:
    """Read legacy_dir/drop.json."""
    payload = json.loads((legacy_dir / DROP_FILE).read_text(encoding="utf-8"))
    return DropInfo(
        drop_id=str(payload["drop_id"]),
        as_of=date.fromisoformat(payload["as_of"]),
        extracted_at=datetime.fromisoformat(payload["extracted_at"]),
        people=int(payload["people"]),
        seed=int(payload["seed"]),
        defect_rate=float(payload["defect_rate"]),
        files={str(k): str(v) for k, v in payload["files"].items()},
    )


def iter_manifest(legacy_dir: Path) -> Iterator[InjectedDefect]:
    """Stream the injected defects from legacy_dir/manifest.jsonl."""
    with (legacy_dir / MANIFEST_FILE).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield InjectedDefect(**json.loads(line))


def load_manifest(legacy_dir: Path) -> list[InjectedDefect]:
    """Read every injected defect from legacy_dir/manifest.jsonl."""
    return list(iter_manifest(legacy_dir))


class ManifestWriter:
    """Appends injected defects to manifest.jsonl as they are made."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: IO[str] | None = None
        self.counts: dict[tuple[str, str], int] = {}

    def __enter__(self) -> Self:
        self._handle = self._path.open("w", encoding="utf-8", newline="\n")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()

    def record(self, defect: InjectedDefect) -> None:
        """Write one defect line."""
        if self._handle is None:
            raise RuntimeError("manifest writer is not open")
        self._handle.write(json.dumps(asdict(defect), ensure_ascii=False) + "\n")
        key = (defect.system, defect.expected_check)
        self.counts[key] = self.counts.get(key, 0) + 1
