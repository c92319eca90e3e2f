"""Policy engine decisions against pycasbin and Cedar holding the same grants, and its scaling."""

from __future__ import annotations

import random
import statistics
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import Result, per_call_seconds, percentile
from broker.config.datasets import DatasetInfo, dataset_infos_from_contracts
from broker.config.models import Agreement, Purpose
from broker.config.yaml_files import validate_items
from broker.policy import AgreementIndex, ShareRequest, evaluate
from contracts.registry import all_contracts

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASBIN_MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"""


@dataclass(frozen=True)
class PolicyWorld:
    """Synthetic agreements over the real contracts and purposes, and requests against them."""

    agreements: list[Agreement]
    purposes: Mapping[str, Purpose]
    datasets: Mapping[str, DatasetInfo]
    requests: list[ShareRequest]

    def decide(self) -> Callable[[ShareRequest], Any]:
        index = AgreementIndex.build(self.agreements)
        purposes, datasets = self.purposes, self.datasets

        def decide(request: ShareRequest) -> bool:
            return evaluate(request, index, purposes, datasets, NOW).allowed

        return decide


def _grants(datasets: Mapping[str, DatasetInfo], purposes: Mapping[str, Purpose]) -> list[Any]:
    """(dataset, purpose, legal basis, releasable fields) combinations the engine would permit."""
    grants = []
    for info in datasets.values():
        fields = [name for name, f in info.fields.items() if f.identifier != "direct"]
        for purpose in purposes.values():
            compatible = any(c == purpose.id or c in purpose.compatible_with for c in info.purposes)
            if compatible and fields:
                grants.append((info.name, purpose.id, purpose.legal_bases[0], fields))
    return grants


def build_world(agreements: int, requests: int, seed: int = 11) -> PolicyWorld:
    """`agreements` agreements for partners holding ten each; 70 % of requests are permitted."""
    rng = random.Random(seed)
    datasets = dataset_infos_from_contracts(all_contracts())
    purposes = validate_items(ROOT / "config" / "purposes.yaml", "purposes", Purpose)
    grants = _grants(datasets, purposes)
    made: list[Agreement] = []
    for number in range(agreements):
        dataset, purpose, basis, fields = grants[number % len(grants)]
        chosen = rng.sample(fields, k=max(1, min(len(fields), rng.randint(2, 6))))
        made.append(
            Agreement(
                id=f"agreement-{number:05d}",
                version="1.0.0",
                partner=f"partner-{number // 10:04d}",
                dataset=dataset,
                purposes=(purpose,),
                legal_basis=basis,
                fields=tuple(chosen),
                valid_from=date(2025, 1, 1),
            )
        )
    asked: list[ShareRequest] = []
    for _ in range(requests):
        agreement = rng.choice(made)
        roll = rng.random()
        partner, purpose = agreement.partner, agreement.purposes[0]
        if roll > 0.85:
            partner = f"stranger-{rng.randint(0, 99)}"
        elif roll > 0.7:
            purpose = rng.choice([p for p in purposes if p != purpose])
        basis = purposes[purpose].legal_bases[0]
        asked.append(ShareRequest(partner, agreement.dataset, purpose, basis))
    return PolicyWorld(made, purposes, datasets, asked)


def casbin_decider(world: PolicyWorld) -> Callable[[ShareRequest], Any]:
    """pycasbin RBAC with domains: a role per agreement, granted to its partner in its dataset."""
    import casbin

    with tempfile.TemporaryDirectory() as folder:
        model_path = Path(folder) / "model.conf"
        model_path.write_text(CASBIN_MODEL)
        enforcer = casbin.Enforcer(str(model_path))
    for agreement in world.agreements:
        role = f"role:{agreement.id}"
        enforcer.add_grouping_policy(agreement.partner, role, agreement.dataset)
        for purpose in agreement.purposes:
            enforcer.add_policy(role, agreement.dataset, purpose, agreement.legal_basis)

    def decide(request: ShareRequest) -> bool:
        return bool(
            enforcer.enforce(request.partner, request.dataset, request.purpose, request.legal_basis)
        )

    return decide


def cedar_policies(world: PolicyWorld) -> str:
    """One Cedar permit per agreement, the purposes and legal basis tested on the context."""
    policies = []
    for agreement in world.agreements:
        purposes = ", ".join(f'"{purpose}"' for purpose in agreement.purposes)
        policies.append(
            f'@id("{agreement.id}")\n'
            f'permit(principal == Partner::"{agreement.partner}", action == Action::"share", '
            f'resource == Dataset::"{agreement.dataset}")\n'
            f"when {{ [{purposes}].contains(context.purpose) && "
            f'context.legal_basis == "{agreement.legal_basis}" }};'
        )
    return "\n".join(policies)


def cedar_decider(world: PolicyWorld) -> Callable[[ShareRequest], Any]:
    """cedarpy is_authorized over a PolicySet parsed once."""
    import cedarpy

    policy_set = cedarpy.PolicySet.from_str(cedar_policies(world))
    entities: list[dict[str, Any]] = []

    def decide(request: ShareRequest) -> bool:
        result = cedarpy.is_authorized(
            {
                "principal": f'Partner::"{request.partner}"',
                "action": 'Action::"share"',
                "resource": f'Dataset::"{request.dataset}"',
                "context": {"purpose": request.purpose, "legal_basis": request.legal_basis},
            },
            policy_set,
            entities,
        )
        return bool(result.allowed)

    return decide


def _agreeing(ours: Callable[[Any], Any], theirs: Callable[[Any], Any], requests: list[Any]) -> int:
    """How many requests both engines decide the same way (they hold the same grants)."""
    return sum(ours(request) == theirs(request) for request in requests)


def _p50(decide: Callable[[Any], Any], requests: list[Any], rounds: int) -> float:
    return statistics.median(per_call_seconds(decide, requests, rounds))


def policy_vs_casbin(quick: bool) -> Result:
    world = build_world(1100, 200 if quick else 500)
    ours = world.decide()
    theirs = casbin_decider(world)
    sample = world.requests[: 60 if quick else 200]
    agree = _agreeing(ours, theirs, sample)
    ours_p50 = _p50(ours, world.requests, 10 if quick else 40)
    theirs_p50 = _p50(theirs, sample, 1 if quick else 2)
    return Result(
        "policy_vs_casbin_1k",
        f"1,100 agreements; decision p50 over {len(world.requests)} requests (ours) and "
        f"{len(sample)} (pycasbin RBAC with domains, same grants); decisions agree on "
        f"{agree}/{len(sample)}",
        ours_p50 * 1e6,
        theirs_p50 * 1e6,
        "µs",
        "ratio ≤ 0.005",
        limit=0.005,
    )


def policy_vs_cedar(quick: bool) -> Result:
    world = build_world(1100, 200 if quick else 500)
    ours = world.decide()
    try:
        theirs = cedar_decider(world)
    except ImportError as error:
        return Result(
            "policy_vs_cedar_1k",
            "1,100 agreements; decision p50",
            _p50(ours, world.requests, 10) * 1e6,
            None,
            "µs",
            "ratio ≤ 0.02",
            limit=0.02,
            note=f"cedarpy is not installed: {error}",
        )
    agree = _agreeing(ours, theirs, world.requests)
    ours_p50 = _p50(ours, world.requests, 10 if quick else 40)
    theirs_p50 = _p50(theirs, world.requests, 2 if quick else 5)
    return Result(
        "policy_vs_cedar_1k",
        f"1,100 agreements as 1,100 Cedar permits parsed once (PolicySet.from_str); decision "
        f"p50 over {len(world.requests)} requests; decisions agree on "
        f"{agree}/{len(world.requests)}",
        ours_p50 * 1e6,
        theirs_p50 * 1e6,
        "µs",
        "ratio ≤ 0.02",
        limit=0.02,
    )


def policy_scaling(quick: bool) -> Result:
    rounds = 10 if quick else 40
    small = build_world(100, 1000)
    large = build_world(10_000, 1000)
    small_p50 = _p50(small.decide(), small.requests, rounds)
    large_p50 = _p50(large.decide(), large.requests, rounds)
    return Result(
        "policy_scaling",
        "decision p50 at 10,000 agreements (ours) vs at 100 agreements (baseline), "
        "1,000 requests each",
        large_p50 * 1e6,
        small_p50 * 1e6,
        "µs",
        "ratio ≤ 2",
        limit=2,
    )


def policy_tail(quick: bool) -> Result:
    world = build_world(1000, 1000)
    samples = per_call_seconds(world.decide(), world.requests, 20 if quick else 100)
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    return Result(
        "policy_tail",
        f"1,000 agreements; p99 (ours) vs p50 (baseline) of {len(samples):,} decisions",
        p99 * 1e6,
        p50 * 1e6,
        "µs",
        "ratio ≤ 3",
        limit=3,
        extra={"p50": round(p50 * 1e6, 3), "p99": round(p99 * 1e6, 3)},
    )
