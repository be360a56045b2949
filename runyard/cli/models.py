"""``runyard models ls|show|alias|register``: the model registry from the shell."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from runyard.cli.options import ArtifactUri, TrackingUri

__all__ = ["app"]

app = typer.Typer(help="Registered models, their versions and aliases.", no_args_is_help=True)
console = Console()


def _client(tracking_uri: str | None, artifact_uri: str | None = None):  # type: ignore[no-untyped-def]
    from runyard.tracking.client import Client

    return Client(tracking_uri, artifact_uri)


@app.command("ls")
def ls(
    name_like: Annotated[
        str | None, typer.Argument(help="SQL LIKE pattern, e.g. 'digits%'.")
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """List registered models with their aliases and newest version."""
    from runyard.registry import list_models, list_versions

    client = _client(tracking_uri)
    table = Table("name", "latest", "aliases", "description", header_style="bold")
    for m in list_models(name_like, client):
        versions = list_versions(m.name, client)
        aliases = ", ".join(f"@{a}→{v}" for a, v in sorted(m.aliases.items()))
        table.add_row(
            m.name,
            str(versions[0].version) if versions else "-",
            aliases or "-",
            m.description or "",
        )
    console.print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int | None, typer.Argument(help="One version (default: all).")] = None,
    tracking_uri: TrackingUri = None,
    artifact_uri: ArtifactUri = None,
) -> None:
    """Show a model's versions, or one version with its signature and lineage."""
    from runyard.registry import get_manifest, list_versions, model_lineage

    client = _client(tracking_uri, artifact_uri)
    if version is None:
        table = Table(header_style="bold")
        for column in ("version", "aliases", "flavor", "run", "source"):
            table.add_column(column, overflow="fold")
        for v in list_versions(name, client):
            table.add_row(
                str(v.version),
                ", ".join(f"@{a}" for a in v.aliases) or "-",
                v.tags.get("runyard.flavor", "-"),
                v.run_id or "-",
                v.source,
            )
        console.print(table)
        return
    uri = f"models:/{name}/{version}"
    manifest = get_manifest(uri, client)
    lineage = model_lineage(name, version, client)
    console.print(f"[bold]{uri}[/]  flavor={manifest.flavor}  source={lineage['source']}")
    sig = Table("io", "name", "datatype", "shape", header_style="bold")
    for io, specs in (("input", manifest.signature.inputs), ("output", manifest.signature.outputs)):
        for t in specs:
            sig.add_row(io, t.name, t.datatype, str(list(t.shape)))
    console.print(sig)
    console.print_json(json.dumps(lineage, default=str))


@app.command("alias")
def alias(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. champion.")],
    version: Annotated[int | None, typer.Argument(help="Version to point at.")] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option("--gate", "-g", help="A gate rule the version's evaluation must pass."),
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    tracking_uri: TrackingUri = None,
    artifact_uri: ArtifactUri = None,
) -> None:
    """Point ALIAS at VERSION (through gates), or remove it with --delete."""
    from runyard.errors import InvalidArgument
    from runyard.registry import delete_alias, set_alias

    client = _client(tracking_uri, artifact_uri)
    if delete:
        delete_alias(name, alias_name, client)
        console.print(f"removed models:/{name}@{alias_name}")
        return
    if version is None:
        raise InvalidArgument("give the VERSION to point the alias at (or --delete)")
    set_alias(name, alias_name, version, gate=gate or None, client=client)
    console.print(f"models:/{name}@{alias_name} → version {version}")


@app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="Registered model name (created if missing).")],
    run_id: Annotated[str, typer.Option("--run", help="The run that logged the model.")],
    artifact: Annotated[str, typer.Option(help="Where the run logged it.")] = "model",
    tracking_uri: TrackingUri = None,
    artifact_uri: ArtifactUri = None,
) -> None:
    """Register a model logged on a run as the next version."""
    from runyard.registry import register_model

    mv = register_model(
        name, run=run_id, artifact=artifact, client=_client(tracking_uri, artifact_uri)
    )
    console.print(f"registered models:/{name}/{mv.version} from runs:/{run_id}/{artifact}")
