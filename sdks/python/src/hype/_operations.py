"""Which REST operations each SDK method performs.

Every public method that calls hyped is marked with :func:`operation`;
``tests/test_coverage.py`` compares the marks of :class:`~hype.Hype` and
:class:`~hype.AsyncHype` with the operations of the OpenAPI document and
names the ones no method covers. A new resource is a new module in
``hype/resources`` with marked methods, added to ``RESOURCES`` in
``_client.py``.
"""

from __future__ import annotations

from typing import Callable, Dict, FrozenSet, Iterable, Set, Tuple, TypeVar

F = TypeVar("F", bound=Callable[..., object])

Operation = Tuple[str, str]  # ("GET", "/api/v1/vms/{name}")

#: Operations of the document no SDK method wraps, and why.
NOT_WRAPPED: Dict[Operation, str] = {
    ("GET", "/api/v1/vms/{name}/cdp/json"): "Chrome's older name of /cdp/json/list: use vms.cdp_targets()",
    ("GET", "/api/v1/session"): "the web console's login; SDK clients send the key",
    ("POST", "/api/v1/session"): "the web console's login; SDK clients send the key",
    ("DELETE", "/api/v1/session"): "the web console's logout; SDK clients send the key",
    ("GET", "/api/v1/vms/{name}/live/ws"): "the web console's live view; open a sandbox's live_url in a browser",
    ("GET", "/api/v1/agui"): "an AG-UI event stream, for AG-UI clients (@ag-ui/client's HttpAgent)",
}


def operation(method: str, path: str) -> Callable[[F], F]:
    """Marks a method as performing ``method path`` (a path template of the document)."""

    def mark(fn: F) -> F:
        ops: Set[Operation] = set(getattr(fn, "__hype_operations__", ()))
        ops.add((method.upper(), path))
        fn.__hype_operations__ = frozenset(ops)  # type: ignore[attr-defined]
        return fn

    return mark


def operations_of(classes: Iterable[type]) -> Dict[Operation, str]:
    """The marked operations of ``classes``: operation -> ``Class.method``."""
    out: Dict[Operation, str] = {}
    for cls in classes:
        for name in dir(cls):
            ops: FrozenSet[Operation] = getattr(getattr(cls, name, None), "__hype_operations__", frozenset())
            for op in ops:
                out.setdefault(op, f"{cls.__name__}.{name}")
    return out
