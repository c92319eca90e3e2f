"""The generator is deterministic, sized by `people`, and describes its drop."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from orchestration.legacy import (
    SYSTEMS,
    count_source_rows,
    generate_legacy,
    load_manifest,
    read_drop_info,
)

from .support import AS_OF

REPO_ROOT = Path(__file__).resolve().parents[2]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = generate_legacy(tmp_path / "a", people=600, seed=42, as_of=AS_OF)
    second = generate_legacy(tmp_path / "b", people=600, seed=42, as_of=AS_OF)
    assert first == second
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert set(files_a) == {*first.files.values(), "drop.json", "manifest.jsonl"}
    assert files_a == files_b


def test_same_seed_gives_same_bytes_in_another_process(tmp_path: Path) -> None:
    script = (
        "import datetime, sys; from pathlib import Path; "
        "from orchestration.legacy import generate_legacy; "
        "generate_legacy(Path(sys.argv[1]), people=500, seed=8, as_of=datetime.date(2025, 3, 14))"
    )
    for name, hash_seed in (("a", "1"), ("b", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        command = [sys.executable, "-c", script, str(tmp_path / name)]
        subprocess.run(command, check=True, env=env, cwd=REPO_ROOT)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_regenerating_into_the_same_directory_gives_the_same_bytes(tmp_path: Path) -> None:
    generate_legacy(tmp_path, people=300, seed=1, as_of=AS_OF)
    before = _files(tmp_path)
    generate_legacy(tmp_path, people=300, seed=1, as_of=AS_OF)
    assert _files(tmp_path) == before


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    first = generate_legacy(tmp_path / "a", people=600, seed=1, as_of=AS_OF)
    second = generate_legacy(tmp_path / "b", people=600, seed=2, as_of=AS_OF)
    assert first.drop_id != second.drop_id
    for system in SYSTEMS:
        name = first.files[system]
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()


def test_drop_json_describes_the_extract(tmp_path: Path) -> None:
    info = generate_legacy(tmp_path, people=300, seed=9, defect_rate=0.05, as_of=AS_OF)
    assert read_drop_info(tmp_path) == info
    assert info.extracted_at == dt.datetime(2025, 3, 14, 2, 0, tzinfo=dt.UTC)
    assert (info.people, info.seed, info.defect_rate, info.as_of) == (300, 9, 0.05, AS_OF)
    assert set(info.files) == set(SYSTEMS)
    assert all((tmp_path / name).is_file() for name in info.files.values())
    other = generate_legacy(tmp_path / "x", people=300, seed=9, defect_rate=0.06, as_of=AS_OF)
    assert other.drop_id != info.drop_id


def test_as_of_defaults_to_today(tmp_path: Path) -> None:
    info = generate_legacy(tmp_path, people=20)
    assert info.as_of == dt.date.today()


def test_register_holds_every_person_plus_injected_duplicates(tmp_path: Path) -> None:
    generate_legacy(tmp_path, people=1000, seed=4, defect_rate=0.1, as_of=AS_OF)
    duplicates = [
        d
        for d in load_manifest(tmp_path)
        if d.system == "population_register" and d.expected_check == "unique_key"
    ]
    assert duplicates
    assert count_source_rows(tmp_path)["population_register"] == 1000 + len(duplicates)


def test_progress_counts_every_person(tmp_path: Path) -> None:
    reported: list[int] = []
    generate_legacy(tmp_path, people=2345, as_of=AS_OF, progress=reported.append)
    assert sum(reported) == 2345
    assert len(reported) >= 2


def test_no_defects_at_rate_zero(tmp_path: Path) -> None:
    generate_legacy(tmp_path, people=500, defect_rate=0.0, as_of=AS_OF)
    assert load_manifest(tmp_path) == []


@pytest.mark.parametrize(("people", "rate"), [(0, 0.02), (10, -0.1), (10, 1.5)])
def test_rejects_impossible_arguments(tmp_path: Path, people: int, rate: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        generate_legacy(tmp_path, people=people, defect_rate=rate)


@pytest.mark.integration
def test_memory_stays_bounded_for_100k_people(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        generate_legacy(tmp_path, people=100_000, as_of=AS_OF)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 300 * 1024 * 1024
    assert count_source_rows(tmp_path)["population_register"] >= 100_000
