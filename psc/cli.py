"""``psc``: the platform's command line.

``psc create-topics``, ``psc replay`` and ``psc load-schools`` are operator commands and run from the container image,
which installs the platform without the embedded extra. ``psc run`` starts the whole local stack (``make run``) and
imports ``devstack`` only when it runs, so the other commands never need the embedded wheels.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import asyncpg
import typer
from aiokafka.errors import KafkaError

from psc.arguments import parse_replicas, parse_since

if TYPE_CHECKING:
    from devstack.stack import Stack, StackInfo
    from shared.auth.principal import Role
    from shared.settings import PlatformSettings

app = typer.Typer(help="Parent Support Center platform", no_args_is_help=True, add_completion=False)


@app.command()
def run(
    var_dir: Annotated[Path, typer.Option(help="Where data, logs and stack.json live")] = Path("var"),
    free_ports: Annotated[bool, typer.Option("--free-ports", help="Pick unused ports instead of the defaults")] = False,
    replicas: Annotated[
        str | None,
        typer.Option(
            "--replicas",
            metavar="SERVICE=N,...",
            help="Processes per service, e.g. routing=2,notify=2 (each on its own HTTP port; the others keep one)",
        ),
    ] = None,
) -> None:
    """Start broker, database, mail catcher, SMS sink and the four services; restart what crashes; Ctrl-C stops all.

    A service or sink that exits is restarted after a pause that doubles each time (0.5 s, 1 s, 2 s, ...); five
    crashes within a minute are a crash loop and stop that process only. A broker that exits is started again
    empty: the topics are created and every service's outbox replayed. A database that exits is started again.
    """
    try:
        from devstack.stack import SERVICES, Stack, StackPorts
        from devstack.supervision import RestartPolicy
    except ModuleNotFoundError as exc:
        print(
            f"psc run needs the embedded extra (pip install 'parent-support-center[embedded]'): {exc.name} is missing",
            file=sys.stderr,
        )
        raise typer.Exit(1) from None
    counts = _parsed("--replicas", lambda: parse_replicas(replicas, SERVICES)) if replicas is not None else {}
    ports = StackPorts.free() if free_ports else StackPorts()
    stack = Stack(var_dir, ports, replicas=counts, policy=RestartPolicy())
    raise typer.Exit(asyncio.run(_run(stack)))


T = TypeVar("T")


def _parsed(option: str, parse: Callable[[], T]) -> T:
    """The parsed value, or a usage error (exit code 2) that names the option."""
    try:
        return parse()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"'{option}'") from None


def _print_urls(info: StackInfo) -> None:
    width = max(len(name) for name in [*info.urls, *info.pids, *info.stopped])
    print("\nParent Support Center stack is up:")
    print(f"  {'kafka':<{width}}  {info.kafka_bootstrap}")
    print(f"  {'database':<{width}}  {info.database_url}")
    for name, url in info.urls.items():
        print(f"  {name:<{width}}  {url}")
    print(f"  {'logs':<{width}}  {info.logs}")
    print("\nProcesses (restarted when they crash; the current pids are in stack.json):")
    urls = {replica.name: replica.url for replicas in info.replicas.values() for replica in replicas}
    for name, pid in info.pids.items():
        print(f"  {name:<{width}}  pid {pid:<8} {urls.get(name, '')}".rstrip())
    for name, reason in info.stopped.items():
        print(f"  {name:<{width}}  STOPPED: {reason}")
    if info.demo_accounts:
        console = info.urls.get("console", "")
        print(
            f"\nDemo accounts (made up for this stack; sign in at the staff console {console} or POST /v1/auth/token):"
        )
        name_width = max(len(a["username"]) for a in info.demo_accounts)
        for account in info.demo_accounts:
            print(
                f"  {account['username']:<{name_width}}  {account['password']}  {account['role']:<13}"
                f"  {account['network_id']}"
            )
    for api_key in info.demo_api_keys:
        print(f"\nDemo API key (X-API-Key; {', '.join(map(str, api_key['scopes']))}): {api_key['key']}")  # type: ignore[call-overload]
    print(f"\nThe same as JSON: {Path(info.var_dir) / 'stack.json'}\nCtrl-C stops everything.\n", flush=True)


async def _first_done(work: Awaitable[T], stop: asyncio.Event) -> tuple[bool, T | None]:
    """Run ``work`` until it ends or ``stop`` is set (then cancel it): (finished, its result)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False, None
    return True, task.result()


async def _run(stack: Stack) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        started, info = await _first_done(stack.start(echo=True), stop)
    except Exception as exc:
        print(f"\nthe stack did not start: {exc}", flush=True)
        return 1
    if not started or info is None:
        print("stopped before the stack was up.", flush=True)
        return 0
    _print_urls(info)
    finished, code = await _first_done(stack.supervise(), stop)
    print("stopping ...", flush=True)
    stack.stop()
    print("stopped.", flush=True)
    return (code or 0) if finished else 0


@app.command("create-topics")
def create_topics() -> None:
    """Create the platform's topics on the broker named by PSC_KAFKA_BOOTSTRAP (idempotent)."""
    from shared.contracts.topics import ALL_TOPICS
    from shared.kafka.connection import ensure_topics
    from shared.settings import PlatformSettings

    created = asyncio.run(ensure_topics(PlatformSettings(), list(ALL_TOPICS)))
    print(f"created: {', '.join(created) or 'none (all existed)'}")


@app.command()
def replay(
    service: Annotated[str, typer.Option("--service", help="Whose outbox: intake, routing, notify or catalog")],
    since: Annotated[
        str,
        typer.Option(
            "--since", help="From when: an ISO-8601 time (no zone: this machine's) or a duration before now (2h, 90m)"
        ),
    ],
) -> None:
    """Publish again what SERVICE published since SINCE (after a broker lost it), in the original order per key.

    Reads the service's outbox in PSC_DATABASE_URL (published rows are kept PSC_OUTBOX_RETENTION_DAYS days) and
    sends to PSC_KAFKA_BOOTSTRAP with acks=all. Harmless twice: consumers skip events they already applied.
    """
    from datetime import UTC, datetime, timedelta

    from shared.kafka.outbox_replay import ReplayError
    from shared.kafka.outbox_replay import replay as replay_outbox
    from shared.settings import PlatformSettings

    if not service.strip():
        raise typer.BadParameter("name a service", param_hint="'--service'")
    moment = _parsed("--since", lambda: parse_since(since, now=datetime.now(UTC)))
    settings = PlatformSettings()
    print(f"replaying {service}'s outbox: events published since {moment.isoformat()} ...", flush=True)
    try:
        result = asyncio.run(replay_outbox(settings, service=service.strip(), since=moment))
    except ReplayError as exc:
        print(f"psc replay: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    except (OSError, KafkaError, asyncpg.PostgresError) as exc:
        print(f"psc replay: {_unreachable(exc, settings)}", file=sys.stderr)
        raise typer.Exit(1) from None
    topics = ", ".join(f"{topic} {count}" for topic, count in sorted(result.by_topic.items()))
    print(f"republished {result.republished} events" + (f" ({topics})" if topics else ""))
    for topic, count in sorted(result.skipped.items()):
        print(f"not republished: {count} events for {topic}, a topic the broker does not have")
    kept_from = datetime.now(UTC) - timedelta(days=settings.outbox_retention_days)
    if moment < kept_from:
        print(
            f"note: published rows are kept {settings.outbox_retention_days} days (PSC_OUTBOX_RETENTION_DAYS);"
            f" what was published before {kept_from.isoformat(timespec='seconds')} may be gone"
        )


@app.command("load-schools")
def load_schools(
    file: Annotated[Path, typer.Argument(help="The school list (CSV: school_id, short_name, long_name, network)")],
    routing_url: Annotated[
        str, typer.Option("--routing-url", envvar="PSC_ROUTING_URL", help="Routing's HTTP address")
    ] = "http://127.0.0.1:8002",
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="PSC_TOKEN",
            help="A central staff member's bearer token; default: one signed with PSC_AUTH_SIGNING_KEY for 5 minutes",
        ),
    ] = None,
) -> None:
    """Load a new school list into routing's directory. The open inquiries of every school that moved to another
    network go there at the same tier with their elapsed time kept (each announced as inquiry.rerouted). A list with
    bad rows loads nothing: each bad line is reported."""
    import httpx

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"psc load-schools: cannot read {file}: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    try:
        answer = httpx.put(
            f"{routing_url.rstrip('/')}/v1/directory/schools",
            json={"csv": text},
            headers=_operator_headers(token),
            timeout=120,
        )
    except httpx.HTTPError as exc:
        print(f"psc load-schools: routing at {routing_url} did not answer ({type(exc).__name__})", file=sys.stderr)
        raise typer.Exit(1) from None
    if answer.status_code in (401, 403):
        print(
            f"psc load-schools: routing refused the credentials ({answer.json().get('detail')}): pass a central staff"
            " member's token (--token, PSC_TOKEN) or run with the services' PSC_AUTH_SIGNING_KEY",
            file=sys.stderr,
        )
        raise typer.Exit(1)
    if answer.status_code == 422:
        for error in answer.json().get("errors", []):
            print(f"{file}: {error['reason']}", file=sys.stderr)
        print(f"psc load-schools: nothing was loaded from {file}", file=sys.stderr)
        raise typer.Exit(1)
    if answer.status_code != 200:
        print(f"psc load-schools: routing answered {answer.status_code}: {answer.text[:500]}", file=sys.stderr)
        raise typer.Exit(1)
    loaded = answer.json()
    print(
        f"loaded {loaded['schools']} schools; {loaded['moved_schools']} changed network;"
        f" {loaded['rerouted']} open inquiries rerouted"
    )


users_app = typer.Typer(
    help="Staff accounts: add, disable, list (by PSC_DATABASE_URL, like the services)", no_args_is_help=True
)
app.add_typer(users_app, name="users")

_ROLES = "network_staff, psa, central_staff or auditor"


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="The staff id they sign in as (routing's directory id)")],
    role: Annotated[str, typer.Option("--role", help=_ROLES)],
    network: Annotated[
        str, typer.Option("--network", help="Their network's id (central staff and auditors: 'central')")
    ] = "central",
    name: Annotated[str | None, typer.Option("--name", help="Name shown to colleagues (default: the username)")] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Work email (notify writes to staff about what is theirs to do)")
    ] = None,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Make up a password and print it (else you are asked)")
    ] = False,
) -> None:
    """Add a staff member with a password (or change an existing one's role, network and password).

    The staff member goes into routing's directory (announced as staff.updated, which intake follows; they can
    sign in once intake has it, in a second or two) and the password's argon2 hash into intake."""
    from psc.users import NewUser, add_users, generated_password
    from shared.auth.principal import network_of
    from shared.contracts.text import is_storable

    checked_role = _parsed("--role", lambda: _role(role))
    checked_email = _parsed("--email", lambda: _email(email))
    if not (0 < len(username) <= 100 and is_storable(username) and username.strip() == username):
        raise typer.BadParameter(
            "must be 1 to 100 characters of text, no leading or trailing spaces", param_hint="USERNAME"
        )
    if generate_password:
        password = generated_password()
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        if len(password) < 12:
            raise typer.BadParameter("must be at least 12 characters", param_hint="password")
    user = NewUser(username, checked_role, network, name or username, password, checked_email)
    _users_run("add", lambda s: add_users(s, [user]))
    print(f"added {username} ({checked_role.value}, network {network_of(checked_role, network)})")
    if generate_password:
        print(f"password: {password}")


def _users_run(command: str, work: Callable[[PlatformSettings], Coroutine[Any, Any, T]]) -> T:
    """Run a ``psc users`` command against the database of PSC_DATABASE_URL; exit 1 with one line if it fails."""
    from psc.users import UserError
    from shared.settings import PlatformSettings

    settings = PlatformSettings()
    try:
        return asyncio.run(work(settings))
    except UserError as exc:
        print(f"psc users {command}: {exc}", file=sys.stderr)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"psc users {command}: {_unreachable(exc, settings)}", file=sys.stderr)
    raise typer.Exit(1)


def _email(email: str | None) -> str | None:
    if email is None:
        return None
    from pydantic import TypeAdapter, ValidationError

    from shared.contracts.text import Email

    try:
        return str(TypeAdapter(Email).validate_python(email))
    except ValidationError:
        raise ValueError("is not an email address") from None


def _role(role: str) -> Role:
    from shared.auth.principal import Role

    try:
        return Role(role)
    except ValueError:
        raise ValueError(f"must be {_ROLES}") from None


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="The staff id")]) -> None:
    """Disable a user: their password stops working and their tokens are refused at once; they become inactive in
    routing's directory (no more inquiries are given to them)."""
    from psc.users import disable_user

    _users_run("disable", lambda s: disable_user(s, username))
    print(f"disabled {username}")


@users_app.command("list")
def users_list() -> None:
    """Every user with a password: role, network, and whether they may sign in."""
    from psc.users import list_users

    users = _users_run("list", list_users)
    rows = [("USERNAME", "ROLE", "NETWORK", "STATUS")]
    for user in users:
        if user.disabled:
            status = "disabled"
        elif user.active is None:
            status = "pending (intake has not heard of them from routing yet)"
        else:
            status = "active" if user.active else "inactive in routing's directory"
        rows.append((user.username, user.role or "?", user.network_id or "?", status))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")


api_keys_app = typer.Typer(help="District systems' API keys (X-API-Key)", no_args_is_help=True)
app.add_typer(api_keys_app, name="api-keys")


@api_keys_app.command("new")
def api_keys_new(
    name: Annotated[str, typer.Argument(help="The system's name (recorded in the audit log), e.g. sis")],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated: inquiries:submit, inquiries:read")
    ] = "inquiries:submit",
) -> None:
    """Make a new API key: prints the key (give it to the system; it is not kept) and the PSC_AUTH_API_KEYS entry
    (its SHA-256 and scopes) to add to every service's settings."""
    import json
    import secrets

    from shared.auth import ApiKeyEntry, Scope, api_key_hash

    def parsed() -> frozenset[Scope]:
        try:
            return frozenset(Scope(part.strip()) for part in scopes.split(",") if part.strip())
        except ValueError:
            raise ValueError("each must be inquiries:submit or inquiries:read") from None

    chosen = _parsed("--scopes", parsed)
    key = f"psc-{secrets.token_urlsafe(32)}"
    entry = ApiKeyEntry(id=name, sha256=api_key_hash(key), scopes=chosen)
    print(f"key: {key}")
    print(f"PSC_AUTH_API_KEYS entry: {json.dumps(entry.model_dump(mode='json'), sort_keys=True)}")


def _operator_headers(token: str | None) -> dict[str, str]:
    """The operator's credentials for a service's write endpoint: the token given, or one the operator signs with
    the services' own key (whoever holds PSC_AUTH_SIGNING_KEY may act as central staff)."""
    if not token:
        from shared.auth import AuthSettings, InvalidCredentials, issue_token

        settings = AuthSettings(token_ttl_seconds=300)
        try:
            token, _ = issue_token(settings, staff_id="psc-operator", role="central_staff", network_id="central")
        except InvalidCredentials:
            return {}
    return {"Authorization": f"Bearer {token}"}


def _unreachable(exc: BaseException, settings: PlatformSettings) -> str:
    """Which end failed, without the database URL (it may hold a password)."""
    if isinstance(exc, KafkaError):
        return f"the broker at {settings.kafka_bootstrap} did not answer ({type(exc).__name__}: {exc})"
    return f"the database (PSC_DATABASE_URL) or the broker did not answer ({type(exc).__name__}: {exc})"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
