"""The models against the OpenAPI document's schemas, field for field."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any, Dict, List, Optional, Union

import hype
from hype import models
from hype.resources.vms import VMs

# Schemas with no model of their own, and where they went.
NO_MODEL = {
    "VmList": "vms.list() iterates", "JobList": "jobs.list() iterates",
    "EventList": "events.list() iterates", "ImageList": "images.list() iterates",
    "ErrorBody": "hype.HypeError", "ErrorDetail": "hype.HypeError (.code, .message)",
    "ConsoleMessages": "vms.browser_console() returns the list",
    "NetworkRequests": "vms.browser_network() returns the list",
    "SnapshotList": "snapshots.list() returns the list",
    "PoolList": "pools.list() returns the list",
    "Created": "vms.create() returns a Vm, or with count a ForkResult",
    "Login": "the web console's login body; SDK clients send the key",
    "SessionInfo": "the web console's session; SDK clients send the key",
    "DownloadList": "vms.downloads() returns the list",
    "ResumeJob": "jobs.resume(id, password) takes the password",
}
PRIMITIVE = {"string": str, "integer": int, "number": float, "boolean": bool}


def resolve(doc: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def strip_optional(tp: Any) -> "tuple[Any, bool]":
    if typing.get_origin(tp) is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def schema_type(doc: dict, prop: dict) -> "tuple[Any, bool]":
    """(the Python type the property's schema calls for, nullable)."""
    if "oneOf" in prop:
        variants = [v for v in prop["oneOf"] if v.get("type") != "null"]
        nullable = len(variants) < len(prop["oneOf"])
        assert len(variants) == 1, prop
        return schema_type(doc, variants[0])[0], nullable
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[1]
        target = resolve(doc, prop)
        return ("enum", name, tuple(target["enum"])) if "enum" in target else name, False
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    nullable = "null" in kinds
    (kind,) = [k for k in kinds if k != "null"]
    if kind == "array" and "prefixItems" in prop:
        return ("tuple", tuple(schema_type(doc, p)[0] for p in prop["prefixItems"])), nullable
    if kind == "array":
        return ("list", schema_type(doc, prop["items"])[0]), nullable
    if kind == "object":
        return dict, nullable
    return PRIMITIVE[kind], nullable


def python_type(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Literal:
        return ("enum", None, typing.get_args(tp))
    if typing.get_origin(tp) in (list, List):
        return ("list", python_type(typing.get_args(tp)[0]))
    if typing.get_origin(tp) is tuple:
        return ("tuple", tuple(python_type(a) for a in typing.get_args(tp)))
    if typing.get_origin(tp) in (dict, Dict):
        return dict
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return tp.__name__
    return tp


def same(expected: Any, got: Any) -> bool:
    if isinstance(expected, tuple) and expected[0] == "enum":
        return isinstance(got, tuple) and got[0] == "enum" and set(got[2]) == set(expected[2])
    if isinstance(expected, tuple) and expected[0] == "list":
        return isinstance(got, tuple) and got[0] == "list" and same(expected[1], got[1])
    if isinstance(expected, tuple) and expected[0] == "tuple":
        return (isinstance(got, tuple) and got[0] == "tuple" and len(got[1]) == len(expected[1])
                and all(same(e, g) for e, g in zip(expected[1], got[1])))
    return bool(expected == got)


def test_every_schema_has_a_model(openapi: dict) -> None:
    missing = [n for n in openapi["components"]["schemas"] if n not in NO_MODEL and not hasattr(models, n)]
    assert not missing, f"schemas with no model in hype.models: {missing}"


def test_answer_models_match_their_schemas(openapi: dict) -> None:
    problems: List[str] = []
    for name, schema in openapi["components"]["schemas"].items():
        model = getattr(models, name, None)
        if not (isinstance(model, type) and dataclasses.is_dataclass(model)):
            continue
        hints = typing.get_type_hints(model)
        fields = {f.name: f for f in dataclasses.fields(model) if f.init}
        props = schema.get("properties", {})
        if set(fields) != set(props):
            problems.append(f"{name}: model has {sorted(set(fields) - set(props))} extra, "
                            f"lacks {sorted(set(props) - set(fields))}")
            continue
        required = set(schema.get("required", []))
        for field, f in fields.items():
            tp, optional = strip_optional(hints[field])
            want, nullable = schema_type(openapi, props[field])
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if (field in required) == has_default:
                problems.append(f"{name}.{field}: required={field in required} but default={has_default}")
            if (nullable or field not in required) != optional:
                problems.append(f"{name}.{field}: nullable/optional={nullable or field not in required}, "
                                f"model Optional={optional}")
            if not same(want, python_type(tp)):
                problems.append(f"{name}.{field}: schema {want}, model {python_type(tp)}")
    assert not problems, "\n".join(problems)


def test_enums_match(openapi: dict) -> None:
    for name, schema in openapi["components"]["schemas"].items():
        if "enum" in schema:
            assert set(typing.get_args(getattr(models, name))) == set(schema["enum"]), name


def test_request_bodies_match(openapi: dict) -> None:
    schemas = openapi["components"]["schemas"]
    for name in ("CreateVm", "NetworkSpec", "ProbeRequest", "VsphereJob", "XcpngJob", "OvfJob", "CreateLiveLink"):
        td = getattr(models, name)
        keys = set(typing.get_type_hints(td)) - {"kind"}
        assert keys == set(schemas[name]["properties"]), name
        required = set(td.__required_keys__) - {"kind"}
        assert required == set(schemas[name].get("required", [])), name
    # vms.create takes the create body's fields as keyword arguments.
    params = set(inspect.signature(VMs.create).parameters) - {"self"}
    assert params == set(schemas["CreateVm"]["properties"])
    # vms.live_link takes the link body's fields, after the VM's name.
    params = set(inspect.signature(VMs.live_link).parameters) - {"self", "name"}
    assert params == set(schemas["CreateLiveLink"]["properties"])
    kinds = {td.__annotations__["kind"].__args__[0] for td in (models.VsphereJob, models.XcpngJob, models.OvfJob)}
    assert kinds == set(schemas["JobKind"]["enum"])


def test_answers_decode_and_keep_unknown_fields(h: hype.Hype) -> None:
    v = h.system.version()
    assert isinstance(v.accel, models.AccelInfo) and v.api == "v1"
    assert v.to_dict() == v.raw
    vm = models.Vm.from_json({**_vm(), "later_field": 1})
    assert vm.raw["later_field"] == 1 and isinstance(vm.network, models.VmNetwork)


def _vm() -> Dict[str, Optional[object]]:
    return {"name": "a", "id": "1", "state": "running", "cpu_cores": 1, "memory_mb": 256, "image": "base",
            "kernel_cmdline": "", "network": {"egress": True}, "vmm": {"kind": "qemu"}, "persist": False, "record": False,
            "created_at": "", "updated_at": ""}
