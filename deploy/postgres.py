"""The local PostgreSQL: Debian's binaries, a data directory of its own, roles and database."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import parse_dsn

from deploy.errors import ServiceError, StoreError, Unreachable
from deploy.processes import wait_until
from deploy.settings import HubSettings

ADMIN_ROLE = "sanwang_admin"
# The roles `up` creates: who owns the schema, who writes the merged store, who reads it, the
# query API's login, and the group role every grid worker's own role belongs to.
ROLES = ("sanwang_owner", "sanwang_processor", "sanwang_analyst", "sanwang_api")
GROUP_ROLES = ("sanwang_grid_worker",)


def bin_dir() -> Path:
    """The newest Debian PostgreSQL server binaries (initdb, pg_ctl)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise ServiceError("PostgreSQL server binaries not found: apt-get install postgresql")


def cluster_dir(settings: HubSettings) -> Path:
    """Where the cluster lives: under the state directory, unless root must run it elsewhere.

    PostgreSQL refuses to run as root, so root runs it as the `postgres` user, which must be able
    to reach the directory; a state directory below a private home (/root) is not reachable, and
    then the cluster lives in /var/tmp under a name derived from the state directory.
    """
    home = settings.home.resolve()
    base = home / "postgres"
    if os.geteuid() != 0 or _reachable_by_postgres(home):
        return base
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"sanwang-postgres-{digest}"


def _reachable_by_postgres(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents] if p.exists())


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], what: str) -> str:
    result = subprocess.run(_as_server_user(argv), capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceError(f"{what} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def passfile(settings: HubSettings) -> Path:
    return settings.home.resolve() / "secrets" / "pgpass"


def dsn(settings: HubSettings, role: str = "sanwang_owner", database: str | None = None) -> str:
    """libpq connection string for `role`; passwords stay in the pgpass file, not in the string."""
    if settings.external_database:
        return settings.database_url.get_secret_value()
    database = database or settings.database
    return (f"host=127.0.0.1 port={settings.postgres_port} dbname={database} user={role} "
            f"passfile={passfile(settings)} connect_timeout=5")


# What PostgreSQL says when it answers but refuses: waiting does not change these.
REFUSALS = ("authentication failed", "does not exist", "no pg_hba.conf entry",
            "no password supplied", "permission denied")


def role_dsns(settings: HubSettings) -> dict[str, str]:
    """Each role's connection string without its password (libpq reads it from the pgpass
    file), what `sanwang status --json` prints for `psql "$(...)"`; an external database's URL
    without its password, under its user."""
    if settings.external_database:
        parts = psycopg2.extensions.parse_dsn(settings.database_url.get_secret_value())
        parts.pop("password", None)
        return {parts.get("user", "external"): psycopg2.extensions.make_dsn(**parts)}
    return {role: dsn(settings, role) for role in ROLES}


def connect(conninfo: str) -> Any:
    """A psycopg2 connection; a server that does not answer raises Unreachable, one that refuses
    the role or database StoreError, each naming the server, database and role."""
    try:
        return psycopg2.connect(conninfo)
    except psycopg2.OperationalError as error:
        raise database_error(error, conninfo) from None


def database_error(error: psycopg2.OperationalError, conninfo: str) -> ServiceError | StoreError:
    """psycopg2's connection error as the hub's: Unreachable or StoreError."""
    where = location(conninfo)
    first = " ".join((str(error).strip().splitlines() or ["?"])[0].split())
    reason = first.partition(" failed: ")[2] or first
    if any(refusal in reason for refusal in REFUSALS):
        return StoreError(f"{where} refused: {reason}")
    return Unreachable(f"{where} does not answer ({reason})")


def location(conninfo: str) -> str:
    """Server, database and role of a connection string (never its password)."""
    part = parse_dsn(conninfo)
    return (f"PostgreSQL at {part.get('host', 'localhost')}:{part.get('port', 5432)}/"
            f"{part.get('dbname', '?')} as {part.get('user', '?')}")


@contextmanager
def autocommit_cursor(settings: HubSettings, role: str = "sanwang_owner",
                      database: str | None = None) -> Iterator[Any]:
    """A cursor logged in as `role`, each statement committed at once (what ALTER SYSTEM or a
    test of one role's rights needs); the connection is closed on the way out."""
    conn = connect(dsn(settings, role, database))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _ensure_passwords(settings: HubSettings) -> dict[str, str]:
    path = passfile(settings)
    known: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            *_, role, password = line.split(":")
            known[role] = password
    for role in (ADMIN_ROLE, *ROLES):
        known.setdefault(role, secrets.token_urlsafe(24))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text("".join(
        f"127.0.0.1:{settings.postgres_port}:*:{role}:{pw}\n" for role, pw in known.items()
    ))
    path.chmod(0o600)
    return known


def start(settings: HubSettings, timeout: float = 60.0) -> bool:
    """Create the cluster on first use and start it unless it runs; True if this call started it."""
    base = cluster_dir(settings)
    data = base / "data"
    passwords = _ensure_passwords(settings)
    if is_running_locally(settings):
        _ensure_roles(settings, passwords)
        return False
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        pwfile = base / "admin.pw"
        pwfile.write_text(passwords[ADMIN_ROLE] + "\n")
        pwfile.chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        try:
            _run([str(bin_dir() / "initdb"), "-D", str(data), "-U", ADMIN_ROLE, "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=reject", "--auth-host=scram-sha-256",
                  f"--pwfile={pwfile}"], "initdb")
        finally:
            pwfile.unlink(missing_ok=True)
    # a merge holds an advisory lock per blocking key and resident of its batch (thousands)
    options = (f"-c listen_addresses=127.0.0.1 -p {settings.postgres_port} "
               "-c unix_socket_directories='' -c wal_level=logical -c max_wal_senders=10 "
               "-c max_replication_slots=10 -c max_locks_per_transaction=1024 "
               f"-c shared_buffers={settings.postgres_shared_buffers}")
    _run([str(bin_dir() / "pg_ctl"), "-D", str(data), "-l", str(base / "postgres.log"),
          "-o", options, "-w", "-t", str(int(timeout)), "start"], "Starting PostgreSQL")
    wait_until(lambda: _answers(settings), timeout, "PostgreSQL", log_file=base / "postgres.log")
    _ensure_roles(settings, passwords)
    return True


def _answers(settings: HubSettings) -> bool:
    try:
        psycopg2.connect(dsn(settings, ADMIN_ROLE, "postgres")).close()
        return True
    except psycopg2.OperationalError:
        return False


def _ensure_roles(settings: HubSettings, passwords: dict[str, str]) -> None:
    """The hub's roles (passwords from the pgpass file), then its database."""
    conn = psycopg2.connect(dsn(settings, ADMIN_ROLE, "postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        for role in ROLES:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD %s").format(
                sql.SQL(verb), sql.Identifier(role)), (passwords[role],))
        for role in GROUP_ROLES:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        cur.execute("ALTER ROLE sanwang_owner CREATEDB REPLICATION")
    conn.close()
    ensure_database(settings)


def ensure_database(settings: HubSettings) -> None:
    """The hub's database and its schema `hub`, created once; a second call changes nothing."""
    conn = psycopg2.connect(dsn(settings, ADMIN_ROLE, "postgres"))
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.database,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {} OWNER sanwang_owner").format(
                sql.Identifier(settings.database)))
    conn.close()
    conn = psycopg2.connect(dsn(settings, "sanwang_owner"))
    with conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS hub AUTHORIZATION sanwang_owner")
        cur.execute("GRANT USAGE ON SCHEMA hub TO sanwang_processor, sanwang_analyst,"
                    " sanwang_api, sanwang_grid_worker")
        cur.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA hub "
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO sanwang_processor")
        cur.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA hub "
                    "GRANT USAGE, SELECT ON SEQUENCES TO sanwang_processor")
    conn.close()


def stop_local(settings: HubSettings) -> bool:
    if not is_running_locally(settings):
        return False
    data = cluster_dir(settings) / "data"
    _run([str(bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
         "Stopping PostgreSQL")
    return True


def is_running_locally(settings: HubSettings) -> bool:
    data = cluster_dir(settings) / "data"
    if not (data / "PG_VERSION").exists():
        return False
    result = subprocess.run(_as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(data),
                                             "status"]), capture_output=True, text=True)
    return result.returncode == 0


def local_pid(settings: HubSettings) -> int | None:
    """The local cluster's postmaster (the benchmarks read its CPU time), None if not running."""
    pid_file = cluster_dir(settings) / "data" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if is_running_locally(settings) else None


def running_version(settings: HubSettings) -> str:
    """The server's own `server_version`."""
    role = ADMIN_ROLE if not settings.external_database else "sanwang_owner"
    conn = psycopg2.connect(dsn(settings, role, None if settings.external_database else "postgres"))
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return str(cur.fetchone()[0])
    finally:
        conn.close()
