"""``tillit lineage``: where a dataset or a shared value came from, and where it went."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.tree import Tree

lineage_app = typer.Typer(help="Trace lineage in the store.", no_args_is_help=True)
console = Console()
DatabaseUrl = Annotated[str, typer.Option(envvar="TILLIT_DATABASE_URL", help="Sharing store URL.")]
Depth = Annotated[int, typer.Option(help="How many jobs away to follow.")]
AsOf = Annotated[
    datetime | None, typer.Option(help="Show the graph as it stood then (ISO, UTC if no zone).")
]


def _graph(dataset: str, direction: str, depth: int, as_of: datetime | None, url: str) -> None:
    from contracts.store import make_engine
    from lineage.queries import dataset_graph, parse_dataset

    start = parse_dataset(dataset)
    if start is None:
        console.print("[red]name a dataset as namespace/name, e.g. tillit://store/persons[/red]")
        raise typer.Exit(code=2)
    moment = as_of or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            graph = dataset_graph(conn, start, direction=direction, depth=depth, as_of=moment)
    except sa.exc.OperationalError as error:
        console.print(f"[red]this store has no lineage to read: {error.orig}[/red]")
        raise typer.Exit(code=1) from error
    finally:
        engine.dispose()
    tree = Tree(f"[bold]{dataset}[/bold] ({direction}, as of {moment:%Y-%m-%d %H:%M %Z})")
    _grow(tree, dataset, graph.edges, direction, depth)
    console.print(tree)
    for source, source_field, target, target_field in sorted(graph.columns):
        console.print(f"  {source}.{source_field} → {target}.{target_field}")


def _grow(
    node: Tree, dataset: str, edges: set[tuple[str, str, str]], direction: str, depth: int
) -> None:
    if depth <= 0:
        return
    for source, job, target in sorted(edges):
        here, there = (target, source) if direction == "upstream" else (source, target)
        if here == dataset:
            _grow(node.add(f"{there}  [dim]via {job}[/dim]"), there, edges, direction, depth - 1)


@lineage_app.command("upstream")
def upstream(
    dataset: str,
    depth: Depth = 3,
    as_of: AsOf = None,
    database_url: DatabaseUrl = "sqlite:///var/tillit.db",
) -> None:
    """Where DATASET (namespace/name) came from."""
    _graph(dataset, "upstream", depth, as_of, database_url)


@lineage_app.command("downstream")
def downstream(
    dataset: str,
    depth: Depth = 3,
    as_of: AsOf = None,
    database_url: DatabaseUrl = "sqlite:///var/tillit.db",
) -> None:
    """Where DATASET (namespace/name) went: derived datasets and partner deliveries."""
    _graph(dataset, "downstream", depth, as_of, database_url)


@lineage_app.command("share")
def share(share_id: str, database_url: DatabaseUrl = "sqlite:///var/tillit.db") -> None:
    """Every field a share released, traced back to its legacy field and pipeline run."""
    from contracts.store import make_engine
    from lineage.queries import share_trace

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            traces = share_trace(conn, share_id)
    except sa.exc.OperationalError as error:
        console.print(f"[red]this store has no lineage to read: {error.orig}[/red]")
        raise typer.Exit(code=1) from error
    finally:
        engine.dispose()
    if not traces:
        console.print(f"[red]no lineage for share {share_id}[/red]")
        raise typer.Exit(code=1)
    tree = Tree(f"[bold]share {share_id}[/bold]")
    for trace in traces:
        branch = tree.add(f"[bold]{trace.field}[/bold]")
        for path in trace.paths:
            node = branch
            for hop in path:
                node = node.add(
                    f"{hop.namespace}/{hop.name}.{hop.field}  [dim]{hop.job} "
                    f"run {hop.run_id[:8]}[/dim]"
                )
    console.print(tree)
