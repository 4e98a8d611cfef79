"""The hub's errors: each branch has its own exit status, listed in `sanwang --help`; a database
that refuses is told apart from one that does not answer."""

import psycopg2
import pytest

from cli.main import EXIT_STATUS, build_parser
from deploy import errors
from deploy.postgres import database_error

BRANCHES = (errors.InputError, errors.ConfigurationError, errors.ServiceError,
            errors.BrokerError, errors.StoreError, errors.KeyringError)
CONNINFO = "host=db.example port=5433 dbname=hub user=sanwang_processor password=secret"


def test_every_branch_exits_with_a_status_of_its_own_that_help_lists() -> None:
    codes = [branch.exit_code for branch in BRANCHES]
    assert len(set(codes)) == len(codes) and 0 not in codes and 1 not in codes
    listed = [code for code, _ in EXIT_STATUS]
    assert set(codes) | {errors.EXIT_CRASH} <= set(listed)
    assert len(set(listed)) == len(listed)
    help_text = build_parser().format_help()
    assert all(f"\n  {code:<4} " in help_text for code in listed)


@pytest.mark.parametrize(("message", "kind"), [
    ('connection to server at "db.example", port 5433 failed: Connection refused\n\tIs the '
     "server running on that host and accepting TCP/IP connections?\n", errors.Unreachable),
    ('connection to server at "db.example", port 5433 failed: FATAL:  the database system is '
     "starting up\n", errors.Unreachable),
    ('connection to server at "db.example", port 5433 failed: FATAL:  password authentication '
     'failed for user "sanwang_processor"\n', errors.StoreError),
    ('connection to server at "db.example", port 5433 failed: FATAL:  database "hub" does not '
     "exist\n", errors.StoreError),
])
def test_a_refusal_is_not_retried_a_server_that_does_not_answer_is(
        message: str, kind: type) -> None:
    error = database_error(psycopg2.OperationalError(message), CONNINFO)
    assert type(error) is kind
    text = str(error)
    assert text.startswith("PostgreSQL at db.example:5433/hub as sanwang_processor")
    assert "\n" not in text and "secret" not in text
