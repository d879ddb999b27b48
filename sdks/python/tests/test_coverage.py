"""The OpenAPI document against the SDK: every operation has a method."""

from __future__ import annotations

from typing import Dict, Set, Tuple

import hype
from hype._client import RESOURCES
from hype._operations import NOT_WRAPPED, operations_of

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def document_operations(doc: dict) -> Set[Tuple[str, str]]:
    return {(m.upper(), path) for path, item in doc["paths"].items() for m in item if m in METHODS}


def covered(sync: bool) -> Dict[Tuple[str, str], str]:
    classes = [pair[0 if sync else 1] for pair in RESOURCES.values()]
    classes.append(hype.Sandbox if sync else hype.AsyncSandbox)
    return operations_of(classes)


def test_every_operation_of_the_document_is_covered(openapi: dict) -> None:
    ops = document_operations(openapi)
    assert len(ops) > 20, "the document lists operations"
    for sync in (True, False):
        mine = covered(sync)
        missing = sorted(ops - set(mine) - set(NOT_WRAPPED))
        client = "Hype" if sync else "AsyncHype"
        assert not missing, f"{client} covers no method for: " + ", ".join(f"{m} {p}" for m, p in missing)
        stale = sorted(set(mine) - ops)
        assert not stale, f"{client} marks operations the document lacks: {stale}"
    assert set(NOT_WRAPPED) <= ops, "NOT_WRAPPED names an operation the document lacks"


def test_sync_and_async_clients_match() -> None:
    assert covered(True).keys() == covered(False).keys()
    for attr, (sync_cls, async_cls) in RESOURCES.items():
        public = lambda c: {n for n in dir(c) if not n.startswith("_")}  # noqa: E731
        assert public(sync_cls) == public(async_cls), attr
