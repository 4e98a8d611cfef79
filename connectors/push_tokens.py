"""Bearer tokens of the departments that push records over HTTP, one per department.

Generated on first use into `$SANWANG_HOME/secrets/push-tokens.json` (mode 600); a department's
system sends `Authorization: Bearer <its token>`. Rotate a token by deleting its line and
restarting the endpoint: a new one is generated.
"""

from __future__ import annotations

import hmac
import json
import secrets
from pathlib import Path

from schemas.departments import all_departments


def load_tokens(path: Path) -> dict[str, str]:
    """department -> token, creating the missing ones."""
    tokens: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [d for d in all_departments() if d not in tokens]
    if missing:
        tokens.update({d: secrets.token_urlsafe(32) for d in missing})
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(json.dumps(tokens, indent=2))
        path.chmod(0o600)
    return tokens


def department_of_token(tokens: dict[str, str], token: str) -> str | None:
    """Which department a token belongs to (constant-time comparisons), or None."""
    found = None
    for department, known in tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            found = department
    return found
