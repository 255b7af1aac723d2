"""`mcp-oauth-server`: serve, and the operator's chores (keys, clients, tokens)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from mcp_oauth_gateway_core import commandline
from mcp_oauth_gateway_core.logs import configure_logging
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table

from mcp_oauth_dynamicclient.config import Settings
from mcp_oauth_dynamicclient.grants import Grants
from mcp_oauth_dynamicclient.keys import KeyConfigError, generate_rsa_pem, load_signing_keys
from mcp_oauth_dynamicclient.storage import Store
from mcp_oauth_dynamicclient.tokens import AccessTokens, InvalidToken

console = Console()


def _when(epoch: int) -> str:
    if not epoch:
        return ""
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _run(command: Coroutine[Any, Any, int]) -> int:
    """Run an operator command; a clear line instead of a traceback when it cannot."""
    try:
        return asyncio.run(command)
    except (RedisError, OSError) as exc:
        console.print(f"[red]cannot reach Redis (REDIS_URL): {exc}[/]")
    except InvalidToken as exc:
        console.print(f"[red]not a token of this gateway: {exc}[/]")
    except KeyConfigError as exc:
        console.print(f"[red]{exc}[/]")
    return 1


def _store(settings: Settings) -> Store:
    return Store.from_url(
        settings.redis_url, settings.redis_key_prefix, settings.redis_password.get_secret_value()
    )


def serve(args: argparse.Namespace, root: argparse.ArgumentParser) -> int:
    from mcp_oauth_dynamicclient.server import create_app

    overrides = {"auth_host": args.host, "auth_port": args.port, "log_level": args.log_level}
    values = {k: v for k, v in overrides.items() if v is not None}
    settings = commandline.load_settings(root, Settings, values)
    configure_logging(settings.log_level, settings.log_file)
    commandline.serve(
        create_app(settings),
        host=settings.auth_host,
        port=settings.auth_port,
        log_level=settings.log_level,
        proxy_headers=False,  # ratelimit.py decides which X-Forwarded-For to believe
    )
    return 0


def keys_generate(args: argparse.Namespace) -> int:
    pem = generate_rsa_pem()
    if args.out == "-":
        sys.stdout.write(pem.decode())
        return 0
    path = Path(args.out)
    if path.exists() and not args.force:
        console.print(f"[red]{path} exists[/]; pass --force to overwrite it")
        return 1
    path.write_bytes(pem)
    path.chmod(0o600)
    console.print(f"RS256 signing key written to [bold]{path}[/] (mode 600).")
    console.print("Set JWT_PRIVATE_KEY_FILE to it; move the old one to JWT_PREVIOUS_KEY_FILES.")
    return 0


async def clients_list(settings: Settings) -> int:
    store = _store(settings)
    try:
        table = Table("client_id", "name", "auth method", "redirect URIs", "registered")
        for suffix in sorted(await store.scan("client", "*")):
            record = await store.get_json(suffix)
            if record is None:
                continue
            meta = record["metadata"]
            table.add_row(
                record["client_id"],
                meta.get("client_name", ""),
                meta.get("token_endpoint_auth_method", ""),
                "\n".join(meta.get("redirect_uris", [])),
                _when(record.get("issued_at", 0)),
            )
        console.print(table)
    finally:
        await store.close()
    return 0


async def clients_show(settings: Settings, client_id: str) -> int:
    store = _store(settings)
    try:
        record = await store.get_json("client", client_id)
        if record is None:
            console.print(f"[red]no client {client_id}[/]")
            return 1
        shown = {k: v for k, v in record.items() if not k.endswith("_digest")}
        console.print_json(data=shown)
    finally:
        await store.close()
    return 0


async def _grants(settings: Settings, store: Store) -> Grants:
    keys = await load_signing_keys(settings, store)
    access = AccessTokens(keys, settings.gateway_issuer, settings.access_token_lifetime)
    return Grants(settings, store, access)


async def clients_delete(settings: Settings, client_id: str) -> int:
    store = _store(settings)
    try:
        if await store.get_json("client", client_id) is None:
            console.print(f"[red]no client {client_id}[/]")
            return 1
        await store.delete("client", client_id)
        families = await (await _grants(settings, store)).revoke_client(client_id)
        console.print(f"Deleted client {client_id}; revoked {families} token families.")
    finally:
        await store.close()
    return 0


async def tokens_revoke(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    try:
        grants = await _grants(settings, store)
        if args.client:
            count = await grants.revoke_client(args.client)
            console.print(f"Revoked every token of client {args.client} ({count} families).")
        elif args.user:
            count = await grants.revoke_families("user", args.user)
            console.print(f"Revoked every token of user {args.user} ({count} families).")
        else:
            claims = grants.access.verify(args.token, check_expiry=False)
            await grants.revoke_family(claims["fam"])
            console.print(f"Revoked token {claims['jti']} and its family.")
    finally:
        await store.close()
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="mcp-oauth-server",
        description="OAuth 2.1 authorization server and Traefik ForwardAuth for MCP servers.",
    )
    commandline.add_version(root, "mcp-oauth-dynamicclient")
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the service")
    run.add_argument("--host", help="interface to bind (AUTH_HOST, default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (AUTH_PORT, default 8000)")
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    keys = commands.add_parser("keys", help="signing keys").add_subparsers(
        dest="action", required=True
    )
    gen = keys.add_parser("generate", help="write a new RS256 private key (PEM)")
    gen.add_argument("--out", default="-", help="file to write (default: stdout)")
    gen.add_argument("--force", action="store_true", help="overwrite an existing file")

    clients = commands.add_parser("clients", help="registered clients").add_subparsers(
        dest="action", required=True
    )
    clients.add_parser("list", help="every registered client")
    for name, text in (("show", "one client's registration"), ("delete", "delete, revoke all")):
        sub = clients.add_parser(name, help=text)
        sub.add_argument("client_id")

    tokens = commands.add_parser("tokens", help="tokens").add_subparsers(
        dest="action", required=True
    )
    revoke = tokens.add_parser("revoke", help="revoke tokens")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--client", help="every token of this client")
    which.add_argument("--user", help="every token of this user (X-User-Id, e.g. github:123)")
    which.add_argument("--token", help="this access token and its whole family")
    return root


def main(argv: Sequence[str] | None = None) -> None:
    root = parser()
    args = root.parse_args(argv)
    if args.command == "serve":
        sys.exit(serve(args, root))
    if args.command == "keys":
        sys.exit(keys_generate(args))
    settings = commandline.load_settings(root, Settings, {})
    if args.command == "clients":
        if args.action == "list":
            sys.exit(_run(clients_list(settings)))
        run = clients_show if args.action == "show" else clients_delete
        sys.exit(_run(run(settings, args.client_id)))
    sys.exit(_run(tokens_revoke(settings, args)))
