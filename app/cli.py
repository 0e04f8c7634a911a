"""The `muster` command: serve, dispatch, migrate, create-api-key, services, export-openapi."""

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from app.catalog.schemas import CatalogFile, ImportResult, read_catalog
from app.core import migrations
from app.core.db import Database
from app.core.handles import normalise_handle
from app.core.logging import configure_logging, logging_config
from app.core.security import Scope
from app.core.settings import get_settings

DEFAULT_OPENAPI = Path("openapi/openapi.json")


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        log_config=logging_config(settings.log_level),
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )


async def _dispatch() -> None:
    from app.core.timers import TimerLoop
    from app.flows.timers import HANDLERS
    from app.notifications.dispatcher import Dispatcher

    settings = get_settings()
    database = Database.from_settings(settings)
    try:
        if settings.auto_migrate:
            await migrations.upgrade(database.engine)
        dispatcher = Dispatcher(database, settings)
        timers = TimerLoop(database, HANDLERS, poll_seconds=settings.timer_poll_seconds)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        dispatcher.start()
        timers.start()
        print("dispatching webhooks and timers; stop with SIGTERM or Ctrl-C", file=sys.stderr)
        await stopping.wait()
        await timers.stop()
        await dispatcher.stop()
    finally:
        await database.dispose()


def dispatch(_: argparse.Namespace) -> None:
    configure_logging(get_settings().log_level)
    asyncio.run(_dispatch())


async def _with_database(action: str, revision: str) -> None:
    database = Database.from_settings(get_settings())
    try:
        await getattr(migrations, action)(database.engine, revision)
    finally:
        await database.dispose()


def migrate(args: argparse.Namespace) -> None:
    action = "downgrade" if args.downgrade else "upgrade"
    asyncio.run(_with_database(action, args.revision or ("base" if args.downgrade else "head")))
    print(f"database {action}d to {args.revision or ('base' if args.downgrade else 'head')}")


async def _create_api_key(name: str, scopes: list[Scope], person: str | None) -> str:
    from app.auth import service

    database = Database.from_settings(get_settings())
    try:
        await migrations.upgrade(database.engine)
        async with database.sessionmaker() as session, session.begin():
            _, key = await service.create_api_key(session, name=name, scopes=scopes, person=person)
        return key
    finally:
        await database.dispose()


def create_api_key(args: argparse.Namespace) -> None:
    names = [part.strip() for item in args.scopes for part in item.split(",") if part.strip()]
    try:
        scopes = [Scope(name) for name in names]
    except ValueError as exc:
        raise SystemExit(f"unknown scope: {exc}; known: {', '.join(Scope)}") from None
    if not scopes:
        raise SystemExit("give at least one scope with --scopes")
    try:
        person = normalise_handle(args.person) if args.person is not None else None
    except ValueError as exc:
        raise SystemExit(f"--person: {exc}") from None
    key = asyncio.run(_create_api_key(args.name, scopes, person))
    print(key)
    whose = f"{person}'s" if person else "service"
    print(
        f"{whose} API key '{args.name}' with {', '.join(scopes)}: shown once, store it now",
        file=sys.stderr,
    )


async def _import_catalog(catalog: CatalogFile) -> ImportResult:
    from app.catalog import service

    database = Database.from_settings(get_settings())
    try:
        await migrations.upgrade(database.engine)
        async with database.sessionmaker() as session, session.begin():
            return await service.import_catalog(session, catalog)
    finally:
        await database.dispose()


def import_services(args: argparse.Namespace) -> None:
    try:
        catalog = read_catalog(Path(args.file))
    except ValueError as exc:
        raise SystemExit(f"{args.file}: {exc}") from None
    result = asyncio.run(_import_catalog(catalog))
    print(
        f"{args.file}: {len(result.created)} created, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged"
    )
    for verb, names in (("created", result.created), ("updated", result.updated)):
        for name in names:
            print(f"  {verb} {name}")


def export_openapi(args: argparse.Namespace) -> None:
    from app.main import create_app

    document = json.dumps(create_app().openapi(), indent=2, sort_keys=False) + "\n"
    if args.output == "-":
        sys.stdout.write(document)
        return
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(document)
    print(f"wrote {args.output}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="muster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve the API (MUSTER_HOST:MUSTER_PORT)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.set_defaults(run=serve)

    p = commands.add_parser(
        "dispatch", help="deliver webhooks only (run API processes with the dispatcher off)"
    )
    p.set_defaults(run=dispatch)

    p = commands.add_parser("migrate", help="migrate the database to the newest schema")
    p.add_argument("--revision", help="target revision (default: head, or base with --downgrade)")
    p.add_argument("--downgrade", action="store_true")
    p.set_defaults(run=migrate)

    p = commands.add_parser("create-api-key", help="create an API key and print it once")
    p.add_argument("--name", required=True)
    p.add_argument("--scopes", action="append", required=True, help="comma-separated; repeatable")
    p.add_argument("--person", help="the handle of the person whose key it is (a personal key)")
    p.set_defaults(run=create_api_key)

    p = commands.add_parser("services", help="the service catalog")
    services = p.add_subparsers(dest="action", required=True)
    p = services.add_parser(
        "import", help="load a catalog file (YAML or JSON); importing it again changes nothing"
    )
    p.add_argument("file", help="`services:` list of name, owner_team, depends_on, …")
    p.set_defaults(run=import_services)

    p = commands.add_parser("export-openapi", help="write the OpenAPI document")
    p.add_argument("--output", default=str(DEFAULT_OPENAPI), help="file, or - for stdout")
    p.set_defaults(run=export_openapi)

    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
