from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Type, TypeVar

from ..models import Model

if TYPE_CHECKING:  # pragma: no cover
    from .._client import AsyncHype, Hype

M = TypeVar("M", bound=Model)

#: Items a list asks for per page when the caller does not say.
PAGE_SIZE = 100


class SyncResource:
    def __init__(self, client: "Hype") -> None:
        self._client = client
        self._t = client._transport


class AsyncResource:
    def __init__(self, client: "AsyncHype") -> None:
        self._client = client
        self._t = client._transport


def page_of(body: Dict[str, Any], key: str, model: Type[M], bind: Callable[[M], M] = lambda m: m
            ) -> Tuple[List[M], Optional[str]]:
    return [bind(model.from_json(x)) for x in body.get(key, [])], body.get("next")
