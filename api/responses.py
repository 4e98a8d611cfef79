"""What the query API answers besides success, as its OpenAPI says: the error bodies and which
statuses each operation can answer, so that a client (and Schemathesis) meets no status, content
type or body the contract does not name."""

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    """A refusal the API words itself: no or unknown token, outside the principal's rights, not
    found, a decision the store refuses, Prometheus or the store unavailable."""

    detail: str


class InvalidField(BaseModel):
    """One parameter or body field that does not match the OpenAPI (FastAPI's own 422 item)."""

    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    """Parameters or body that do not match the OpenAPI: one item per wrong field."""

    detail: list[InvalidField]


Responses = dict[int | str, dict[str, Any]]

UNAUTHENTICATED: Responses = {401: {
    "model": Problem, "description": "no bearer token, or one no principal holds",
    "headers": {"WWW-Authenticate": {"description": "always `Bearer`",
                                     "schema": {"type": "string"}}}}}
FORBIDDEN: Responses = {403: {"model": Problem,
                              "description": "the principal's kind may not call this operation"}}
BUSY: Responses = {503: {"model": Problem,
                         "description": "every store connection stayed busy for 30 s; retry"}}
ANY_PRINCIPAL = UNAUTHENTICATED | BUSY
SOME_PRINCIPALS = ANY_PRINCIPAL | FORBIDDEN


def not_found(what: str) -> Responses:
    return {404: {"model": Problem, "description": what}}


REFUSED_DECISION: Responses = {
    400: {"model": Problem, "description": "a body that is not JSON"},
    404: {"model": Problem, "description": "a record or resident the store does not hold"},
    409: {"model": Problem, "description": "the store's grouping refuses it (records not of "
                                           "that resident, a split that leaves none)"},
    # FastAPI's own 422 (a wrong body) or the decision's (one record against itself)
    422: {"model": Invalid | Problem, "description": "a body that does not match the schema, "
                                                     "or a decision on one record with itself"},
}
PROMETHEUS_DOWN: Responses = {502: {"model": Problem,
                                    "description": "Prometheus did not answer"}}


def errors_as_json(responses: Responses) -> Responses:
    """`responses` for an operation whose success is not JSON (the CSV export): FastAPI would
    document their models under that media type, but error bodies are JSON whatever the route.
    The models' schemas are in the OpenAPI's components (the other operations use them)."""
    return {status: {**{k: v for k, v in response.items() if k != "model"},
                     "content": {"application/json": {"schema": {
                         "$ref": f"#/components/schemas/{response['model'].__name__}"}}}}
            for status, response in responses.items()}
