"""The base of every answer model (:class:`Model`: ``raw``, ``from_json``,
``to_dict``) and the decoding that builds models from JSON, driven by the
dataclasses' type hints. :mod:`hype.models` re-exports :class:`Model`."""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple, Type, TypeVar, Union

M = TypeVar("M", bound="Model")


@dataclass
class Model:
    """Base of every answer model."""

    #: The JSON object as the server sent it, including fields this SDK
    #: does not know yet.
    raw: Dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_json(cls: Type[M], data: Mapping[str, Any]) -> M:
        """Builds the model from a decoded JSON object (unknown keys are kept in ``raw``)."""
        return _decode(cls, data)  # type: ignore[no-any-return]

    def to_dict(self) -> Dict[str, Any]:
        """The model as a JSON-ready dict (``raw`` merged under the known fields)."""
        out = dict(self.raw)
        for f in dataclasses.fields(self):
            if f.name == "raw" or f.name.startswith("_"):
                continue
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, Model) else (
                [x.to_dict() if isinstance(x, Model) else x for x in v] if isinstance(v, list) else v
            )
        return out


# Decoding: driven by the dataclasses' type hints.

_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS:
        import typing

        # Each class's hints resolve in its own module's namespace (the
        # models are spread over several modules).
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode(tp: Any, value: Any) -> Any:
    import typing

    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(args[0], value) if len(args) == 1 else value
    if origin in (list, List):
        (item,) = typing.get_args(tp) or (Any,)
        return [_decode(item, v) for v in value]
    if origin in (tuple, Tuple):
        return tuple(_decode(t, v) for t, v in zip(typing.get_args(tp), value))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
        hints = _hints(tp)
        known = {f.name for f in dataclasses.fields(tp) if f.init}
        obj = tp(**{k: _decode(hints[k], v) for k, v in value.items() if k in known})
        obj.raw = dict(value)  # type: ignore[attr-defined]  # every model has it
        return obj
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
