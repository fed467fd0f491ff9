"""``inhouse keys create|list|revoke``: API keys of the HTTP API (see :mod:`inhouse.keys`)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inhouse.cli.app import JsonOpt, app, context, err, out, print_json
from inhouse.errors import InhouseError

keys_app = typer.Typer(help="API keys of the HTTP API: each runs as one user of [users.NAME].", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _store():  # type: ignore[no-untyped-def]
    from inhouse.config import home_path
    from inhouse.keys import KeyStore

    return KeyStore(home_path(context().home))


@keys_app.command()
def create(
    user: Annotated[str, typer.Option("--user", help="the user the key runs as (their groups come from [users.NAME])")],
    name: Annotated[str, typer.Option("--name", help="a label to recognise the key by")] = "",
    rate: Annotated[int | None, typer.Option("--rate", min=0, help="requests per minute (0: unlimited; default: [api])")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a key and print it once: only its digest is kept."""
    from inhouse.config import load

    configured = load(context().config).core.users
    if user not in configured:
        known = ", ".join(sorted(configured)) or "none"
        raise InhouseError(f"no [users.{user}] in the configuration (configured users: {known}); add the user first")
    try:
        record, secret = _store().create(user, name, rate)
    except ValueError as exc:
        raise InhouseError(str(exc)) from None
    if as_json:
        print_json({**record.to_dict(), "key": secret})
        return
    out.print(f"key {record.id} for user {escape(user)} (shown once; keep it secret):", highlight=False)
    print(secret)


@keys_app.command("list")
def list_keys(as_json: JsonOpt = False) -> None:
    """Every key: id, user, label, when it was made and last used, whether it is revoked."""
    keys = _store().list()
    if as_json:
        print_json([k.to_dict() for k in keys])
        return
    if not keys:
        out.print("no API keys: the HTTP API serves this machine only (loopback), as the local user")
        return
    table = Table("id", "user", "name", "created", "last used", "rate/min", "state", title="API keys")
    for k in keys:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.last_used)) if k.last_used else "never"
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.created))
        rate = "default" if k.requests_per_minute is None else str(k.requests_per_minute or "unlimited")
        table.add_row(k.id, escape(k.user), escape(k.name), created, used, rate, "[red]revoked[/]" if k.revoked else "active")
    out.print(table)


@keys_app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id (from `inhouse keys list`)")]) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    if not _store().revoke(key_id):
        err.print(f"[red]error:[/] no active key with id {escape(key_id)}", highlight=False)
        raise typer.Exit(1)
    out.print(f"revoked key {escape(key_id)}", highlight=False)
