"""Who is asking (bearer token -> principal), what they may see, and the audit of what they saw."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from psycopg2 import sql

from schemas.departments import all_departments, sensitive_attributes

KINDS = ("department", "analyst", "grid_worker", "steward")


@dataclass(frozen=True)
class Principal:
    name: str
    kind: str
    department: str | None = None
    db_role: str | None = None


def entitled_fields(principal: Principal, known: list[str]) -> list[str]:
    """What this principal may read of a resident whose values name `known` fields: a
    department what its declaration `reads`; a steward everything but sensitive attributes
    (PIPL art. 28), which only their owner and the departments it shares them with read."""
    if principal.kind == "department":
        declared = all_departments().get(principal.department or "")
        return list(declared.reads) if declared else []
    return [field for field in known if field not in sensitive_attributes()]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(cur: Any, token: str) -> Principal | None:
    cur.execute("SELECT name, kind, department, db_role FROM hub.api_principals"
                " WHERE token_sha256 = %s", (token_hash(token),))
    row = cur.fetchone()
    if row is None:
        return None
    return Principal(*(row.values() if isinstance(row, dict) else row))


def add_principal(cur: Any, name: str, kind: str, department: str | None = None,
                  grids: tuple[str, ...] = ()) -> str:
    """Create a principal and return its token (shown once; only its hash is stored).

    A grid worker gets a database role of their own, member of sanwang_grid_worker, allowed
    `grids`: row-level security then filters every query the API runs for them. Needs a role
    that may create roles (the local admin).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if (kind == "department") != (department is not None):
        raise ValueError("a department principal names its department; no other kind does")
    if department is not None and department not in all_departments():
        raise ValueError(f"no department {department!r}; declared: "
                         f"{', '.join(all_departments())}")
    if kind == "grid_worker" and not grids:
        raise ValueError("a grid worker needs at least one grid")
    token = secrets.token_urlsafe(32)
    db_role = None
    if kind == "grid_worker":
        db_role = "sanwang_gw_" + hashlib.sha256(name.encode()).hexdigest()[:12]
        cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN IN ROLE sanwang_grid_worker").format(
            sql.Identifier(db_role)))
        cur.execute(sql.SQL("GRANT {} TO sanwang_api").format(sql.Identifier(db_role)))
        for grid in grids:
            cur.execute("INSERT INTO hub.grid_worker_grids (db_role, grid_code) VALUES (%s, %s)",
                        (db_role, grid))
    cur.execute("INSERT INTO hub.api_principals (name, kind, department, db_role, token_sha256)"
                " VALUES (%s, %s, %s, %s, %s)", (name, kind, department, db_role,
                                                 token_hash(token)))
    return token


def audit(cur: Any, principal: Principal, action: str, residents: list[str],
          fields: list[str], purpose: str) -> None:
    """Record the read before its answer leaves (same transaction: no audit, no answer)."""
    cur.execute("INSERT INTO hub.audit_log (principal, action, resident_ids, fields, purpose)"
                " VALUES (%s, %s, %s, %s, %s)", (principal.name, action, residents, fields,
                                                  purpose))
