"""``runyard tokens create|ls|revoke``: bearer tokens for a server started with ``--auth``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from runyard.cli.options import TrackingUri

__all__ = ["app"]

app = typer.Typer(help="Manage the server's API tokens (stored hashed).", no_args_is_help=True)


def _store(tracking_uri: str | None):  # type: ignore[no-untyped-def]
    from runyard.tracking.store import get_store

    store = get_store(tracking_uri)
    if not store.supports_tokens:
        raise typer.BadParameter("tokens live in the server's database: give its database URI")
    return store


@app.command("create")
def create(
    scope: Annotated[str, typer.Option(help="read, write or admin.")] = "read",
    name: Annotated[str, typer.Option(help="What the token is for.")] = "",
    days: Annotated[int | None, typer.Option(min=1, help="Expire after this many days.")] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from runyard.server.auth import check_scope, hash_token, new_token

    check_scope(scope)
    token_id, token = new_token()
    expires = None if days is None else int((time.time() + days * 86400) * 1000)
    _store(tracking_uri).create_token(
        token_id, name or f"{scope} token", scope, hash_token(token), expires
    )
    Console(stderr=True).print(f"created token {token_id} (scope {scope}); it is shown once:")
    print(token)


@app.command("ls")
def ls(tracking_uri: TrackingUri = None) -> None:
    """List tokens (ids, scopes, states; never the tokens themselves)."""
    table = Table("id", "name", "scope", "created", "state", header_style="bold")
    for t in _store(tracking_uri).list_tokens():
        created = dt.datetime.fromtimestamp(t.created / 1000).strftime("%Y-%m-%d %H:%M")
        state = "revoked" if t.revoked else ("valid" if t.is_valid() else "expired")
        table.add_row(t.token_id, t.name, t.scope, created, state)
    Console().print(table)


@app.command("revoke")
def revoke(token_id: str, tracking_uri: TrackingUri = None) -> None:
    """Revoke a token by id."""
    _store(tracking_uri).revoke_token(token_id)
    Console(stderr=True).print(f"revoked token {token_id}")
