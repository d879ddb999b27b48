//! Contract tests against the official CH OpenAPI documents (v48.0, v51.1,
//! v53.0): every request the client sends must be accepted by each version's
//! schema with no undeclared field, and every response type must read what
//! each schema describes. The negative tests at the bottom prove the checks
//! can fail: a misspelled field, or a field renamed upstream, is caught.
//!
//! Fixtures: `vm_info.json` is written the way v48-era CH serialises (with
//! `null` for unset options and internal fields); `vm_info_v53_created.json`
//! was captured from a real CH v53.0 (built from its tag) after `vm.create`.

#[path = "common/examples.rs"]
mod examples;
#[path = "common/fake_ch.rs"]
mod fake_ch;
#[path = "common/introspect.rs"]
mod introspect;
#[path = "common/spec.rs"]
mod spec;

use std::collections::BTreeSet;
use std::sync::Arc;

use hype_ch::api::*;
use hype_ch::ChClient;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use fake_ch::{FakeCh, Recorded};
use spec::{all_specs, strip_nulls, Spec};

const API_PREFIX: &str = "/api/v1";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Checks one recorded request against `spec`: the operation exists with
/// that method, and its body (if any) is strictly valid for the operation's
/// request schema.
fn check_request(spec: &Spec, request: &Recorded) -> Result<(), String> {
    let method = request.method.to_ascii_lowercase();
    let path = request
        .path
        .strip_prefix(API_PREFIX)
        .ok_or_else(|| format!("{} is outside {API_PREFIX}", request.path))?;
    let operation = spec
        .operation(&method, path)
        .ok_or_else(|| format!("CH {} has no {method} {path}", spec.version))?;
    let declared = spec.request_schema(&method, path);
    match (declared, request.body.is_empty()) {
        (None, true) => {
            let required = operation
                .get("requestBody")
                .and_then(|b| b.get("required"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if required {
                return Err(format!("CH {} requires a body for {path}", spec.version));
            }
            Ok(())
        }
        (None, false) => Err(format!(
            "CH {} declares no body for {path} but the client sent one",
            spec.version
        )),
        (Some(name), true) => Err(format!(
            "CH {} expects a {name} body for {path}, the client sent none",
            spec.version
        )),
        (Some(name), false) => {
            if request.content_type.as_deref() != Some("application/json") {
                return Err(format!("{path} sent without JSON content type"));
            }
            let body: Value = serde_json::from_slice(&request.body)
                .map_err(|e| format!("{path} body is not JSON: {e}"))?;
            spec.validate(&name, &body, true)
                .map_err(|errors| format!("CH {} {name}: {}", spec.version, errors.join("; ")))
        }
    }
}

/// Checks a response value as CH sends it: loosely valid (after dropping
/// CH's `null`s) for the declared schema, readable into `T`, and `T`'s own
/// serialisation strictly valid, which proves every field `T` reads exists
/// upstream under that name.
fn check_response<T: DeserializeOwned + Serialize>(
    spec: &Spec,
    method: &str,
    path: &str,
    status: &str,
    raw: &Value,
) -> Result<T, String> {
    let name = spec
        .response_schema(method, path, status)
        .ok_or_else(|| format!("CH {} declares no {status} body for {path}", spec.version))?;
    spec.validate(&name, &strip_nulls(raw), false)
        .map_err(|e| format!("CH {} {name} fixture: {}", spec.version, e.join("; ")))?;
    let typed: T = serde_json::from_value(raw.clone())
        .map_err(|e| format!("{name} does not deserialise: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    spec.validate(&name, &back, true)
        .map_err(|e| format!("CH {} {name} as modelled: {}", spec.version, e.join("; ")))?;
    Ok(typed)
}

fn canned_answers() -> fake_ch::Responder {
    let ping = fixture("vmm_ping.json").to_string();
    let info = fixture("vm_info.json").to_string();
    let counters = fixture("vm_counters.json").to_string();
    let pci = fixture("pci_device_info.json").to_string();
    Arc::new(move |_method, path| {
        let op = path.trim_start_matches("/api/v1/");
        match op {
            "vmm.ping" => (200, ping.clone()),
            "vm.info" => (200, info.clone()),
            "vm.counters" => (200, counters.clone()),
            "vm.add-disk" | "vm.add-net" | "vm.add-device" => (200, pci.clone()),
            _ => (204, String::new()),
        }
    })
}

/// Drives every client method against a fake CH and returns what went over
/// the wire.
async fn record_every_call() -> Vec<Recorded> {
    let fake = FakeCh::start(canned_answers());
    let client = ChClient::new(&fake.socket);
    let pong = client.ping().await.expect("ping");
    assert_eq!(pong.version, "48.0.0");
    client.create(&examples::vm_config()).await.expect("create");
    client.boot().await.expect("boot");
    let info = client.info().await.expect("info");
    assert_eq!(info.state, VmState::Running);
    let counters = client.counters().await.expect("counters");
    assert_eq!(counters["rootfs"]["read_ops"], 1250);
    client.pause().await.expect("pause");
    client
        .snapshot(&examples::snapshot())
        .await
        .expect("snapshot");
    client.resume().await.expect("resume");
    client.resize(&examples::resize()).await.expect("resize");
    let added = client.add_disk(&examples::disk()).await.expect("add-disk");
    assert_eq!(added.map(|p| p.bdf).as_deref(), Some("0000:00:06.0"));
    client.add_net(&examples::net()).await.expect("add-net");
    client
        .add_device(&examples::device())
        .await
        .expect("add-device");
    client
        .remove_device(&examples::remove_device())
        .await
        .expect("remove-device");
    client.reboot().await.expect("reboot");
    client.power_button().await.expect("power-button");
    client.shutdown().await.expect("shutdown");
    client.delete().await.expect("delete");
    client.restore(&examples::restore()).await.expect("restore");
    client.shutdown_vmm().await.expect("vmm.shutdown");
    fake.take_requests()
}

#[tokio::test]
async fn every_request_the_client_sends_is_valid_in_every_version() {
    let requests = record_every_call().await;
    let operations: BTreeSet<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        operations.len(),
        19,
        "one distinct operation per client method"
    );
    let mut failures = Vec::new();
    for spec in all_specs() {
        for request in &requests {
            if let Err(e) = check_request(&spec, request) {
                failures.push(format!("{} {}: {e}", request.method, request.path));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "contract violations:\n{}",
        failures.join("\n")
    );
}

fn assert_covers<T: Serialize + DeserializeOwned>(value: &T) {
    let json = serde_json::to_value(value).expect("serialise");
    let mut set: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    set.sort_unstable();
    assert_eq!(
        set,
        introspect::field_names::<T>(),
        "{} example must set every field so each is checked against the schemas",
        std::any::type_name::<T>()
    );
}

#[test]
fn examples_set_every_modelled_field() {
    let vm = examples::vm_config();
    assert_covers(&vm);
    assert_covers(vm.cpus.as_ref().expect("cpus"));
    assert_covers(
        vm.cpus
            .as_ref()
            .and_then(|c| c.topology.as_ref())
            .expect("topology"),
    );
    assert_covers(vm.memory.as_ref().expect("memory"));
    assert_covers(
        &vm.memory
            .as_ref()
            .and_then(|m| m.zones.as_ref())
            .expect("zones")[0],
    );
    assert_covers(&vm.payload);
    assert_covers(&examples::typed_disk());
    assert_covers(&examples::net());
    assert_covers(&examples::rate_limiter());
    assert_covers(examples::rate_limiter().bandwidth.as_ref().expect("bucket"));
    assert_covers(vm.rng.as_ref().expect("rng"));
    assert_covers(vm.balloon.as_ref().expect("balloon"));
    assert_covers(&vm.fs.as_ref().expect("fs")[0]);
    assert_covers(vm.serial.as_ref().expect("serial"));
    assert_covers(vm.console.as_ref().expect("console"));
    assert_covers(vm.vsock.as_ref().expect("vsock"));
    assert_covers(&examples::device());
    assert_covers(&examples::snapshot());
    assert_covers(&examples::restore());
    assert_covers(&examples::resize());
    assert_covers(&examples::remove_device());
}

#[test]
fn responses_are_valid_and_readable_in_every_version() {
    for spec in all_specs() {
        let pong: VmmPingResponse =
            check_response(&spec, "get", "/vmm.ping", "200", &fixture("vmm_ping.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_covers(&pong);
        assert_eq!(pong.build_version.as_deref(), Some("v48.0"));

        let info: VmInfo =
            check_response(&spec, "get", "/vm.info", "200", &fixture("vm_info.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_covers(&info);
        assert_eq!(info.memory_actual_size, Some(512 << 20));
        let tree = info.device_tree.as_ref().expect("device tree");
        let pci = &tree["_virtio-pci-rootfs"];
        assert_covers(pci);
        assert_eq!(pci.pci_bdf.as_deref(), Some("0000:00:02.0"));
        let config = &info.config;
        assert_eq!(
            config.disks.as_ref().expect("disks")[0].id.as_deref(),
            Some("rootfs")
        );
        assert_eq!(
            config.net.as_ref().expect("net")[0].tap.as_deref(),
            Some("hype-tap0")
        );
        assert_eq!(
            config.console.as_ref().map(|c| c.mode),
            Some(ConsoleMode::File)
        );
        assert_eq!(config.vsock.as_ref().map(|v| v.cid), Some(3));
        assert!(config.balloon.is_none(), "null reads as absent");

        // Captured from a real CH v53.0 after vm.create: no nulls (v53 skips
        // unset options) but fields the document lacks, e.g. `cpus.profile`.
        // Its disks carry `image_type`/`backing_files`, which v48 does not
        // know, so only the releases that have them are asked.
        if spec.version != "v48.0" {
            let created: VmInfo = check_response(
                &spec,
                "get",
                "/vm.info",
                "200",
                &fixture("vm_info_v53_created.json"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(created.state, VmState::Created);
            assert_eq!(
                created.config.disks.as_ref().expect("disks")[0]
                    .serial
                    .as_deref(),
                Some("hype-rootfs")
            );
            assert_eq!(created.config.vsock.as_ref().map(|v| v.cid), Some(3));
        }

        let counters: VmCounters = check_response(
            &spec,
            "get",
            "/vm.counters",
            "200",
            &fixture("vm_counters.json"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(counters["eth0"]["tx_frames"], 140);

        for path in ["/vm.add-disk", "/vm.add-net", "/vm.add-device"] {
            let pci: PciDeviceInfo =
                check_response(&spec, "put", path, "200", &fixture("pci_device_info.json"))
                    .unwrap_or_else(|e| panic!("{e}"));
            assert_covers(&pci);
        }
    }
}

/// The enum spelled in `schema.properties.<property>`, following one `$ref`
/// (v53 moved these enums into their own schemas).
fn spec_enum(spec: &Spec, schema: &str, property: &str) -> BTreeSet<String> {
    let mut node = &spec.schema(schema).expect("schema")["properties"][property];
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/components/schemas/");
        node = spec.schema(name).expect("referenced schema");
    }
    node["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect()
}

fn wire_names<T: Serialize>(values: &[T]) -> BTreeSet<String> {
    values
        .iter()
        .map(|v| {
            serde_json::to_value(v)
                .expect("serialise")
                .as_str()
                .expect("string")
                .to_owned()
        })
        .collect()
}

#[test]
fn enums_match_every_version() {
    use ConsoleMode::*;
    let modes = wire_names(&[Off, Pty, Tty, File, Socket, Null]);
    let states = wire_names(&[
        VmState::Created,
        VmState::Running,
        VmState::Shutdown,
        VmState::Paused,
    ]);
    for spec in all_specs() {
        assert_eq!(
            spec_enum(&spec, "ConsoleConfig", "mode"),
            modes,
            "CH {}",
            spec.version
        );
        assert_eq!(
            spec_enum(&spec, "VmInfo", "state"),
            states,
            "CH {}",
            spec.version
        );
    }
}

// ---- The checks can fail -------------------------------------------------

fn vm_config_json() -> Value {
    serde_json::to_value(examples::vm_config()).expect("serialise")
}

fn rename_key(value: &mut Value, pointer: &str, from: &str, to: &str) {
    let object = value
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("{pointer} is not an object"));
    let moved = object
        .remove(from)
        .unwrap_or_else(|| panic!("{pointer}/{from} missing"));
    object.insert(to.to_owned(), moved);
}

#[test]
fn misspelled_request_fields_are_rejected() {
    let cases = [
        ("", "disks", "disk"),
        ("/net/0", "tap", "tapp"),
        ("/cpus", "boot_vcpus", "boot_vcpu"),
        ("/console", "file", "path"),
    ];
    for spec in all_specs() {
        spec.assert_valid("VmConfig", &vm_config_json(), true);
        for (pointer, from, to) in cases {
            let mut body = vm_config_json();
            rename_key(&mut body, pointer, from, to);
            assert!(
                spec.validate("VmConfig", &body, true).is_err(),
                "CH {} accepted {pointer}/{to}",
                spec.version
            );
        }
        // Without strictness the unknown `tapp` would pass: strict mode is
        // what catches misspellings of optional fields.
        let mut body = vm_config_json();
        rename_key(&mut body, "/net/0", "tap", "tapp");
        assert!(spec.validate("VmConfig", &body, false).is_ok());
        // And a wrong type fails even loosely.
        let mut body = vm_config_json();
        body["memory"]["size"] = json!("512M");
        assert!(spec.validate("VmConfig", &body, false).is_err());
    }
}

fn rename_property(spec: &Spec, schema: &str, from: &str, to: &str) -> Spec {
    let mut document = spec.document().clone();
    rename_key(
        &mut document,
        &format!("/components/schemas/{schema}/properties"),
        from,
        to,
    );
    Spec::from_document(spec.version, document)
}

#[tokio::test]
async fn upstream_request_rename_fails_the_contract() {
    let requests = record_every_call().await;
    let add_net = requests
        .iter()
        .find(|r| r.path.ends_with("/vm.add-net"))
        .expect("add-net recorded");
    for spec in all_specs() {
        assert!(check_request(&spec, add_net).is_ok());
        let renamed = rename_property(&spec, "NetConfig", "mac", "mac_address");
        let err = check_request(&renamed, add_net).expect_err("renamed field must fail");
        assert!(err.contains("mac"), "{err}");
    }
}

#[test]
fn upstream_response_rename_fails_the_contract() {
    let raw = fixture("vm_info.json");
    for spec in all_specs() {
        let renamed = rename_property(&spec, "VmInfo", "memory_actual_size", "memory_size");
        assert!(
            check_response::<VmInfo>(&renamed, "get", "/vm.info", "200", &raw).is_err(),
            "CH {}: a renamed response field went unnoticed",
            spec.version
        );
        let renamed = rename_property(&spec, "VmmPingResponse", "build_version", "build");
        assert!(check_response::<VmmPingResponse>(
            &renamed,
            "get",
            "/vmm.ping",
            "200",
            &fixture("vmm_ping.json")
        )
        .is_err());
    }
}

#[test]
fn removed_operation_fails_the_contract() {
    let boot = Recorded {
        method: "PUT".into(),
        path: "/api/v1/vm.boot".into(),
        content_type: None,
        body: Vec::new(),
    };
    for spec in all_specs() {
        assert!(check_request(&spec, &boot).is_ok());
        let mut document = spec.document().clone();
        let paths = document["paths"].as_object_mut().expect("paths");
        paths.remove("/vm.boot");
        let without = Spec::from_document(spec.version, document);
        assert!(check_request(&without, &boot).is_err());
    }
}

// ---- Differences between versions (see docs/cloud-hypervisor.md) ---------

/// Asserts which versions (strictly) accept `value` as `schema`.
fn accepted_by(schema: &str, value: Value) -> Vec<&'static str> {
    all_specs()
        .into_iter()
        .filter(|spec| spec.validate(schema, &value, true).is_ok())
        .map(|spec| spec.version)
        .collect()
}

#[test]
fn version_differences_are_as_documented() {
    let all = vec!["v48.0", "v51.1", "v53.0"];
    let since_51 = vec!["v51.1", "v53.0"];
    let only_53 = vec!["v53.0"];
    let before_53 = vec!["v48.0", "v51.1"];

    assert_eq!(
        accepted_by("NetConfig", json!({"offload_tso": true})),
        since_51
    );
    assert_eq!(
        accepted_by("DiskConfig", json!({"path": "/d", "sparse": true})),
        since_51
    );
    assert_eq!(
        accepted_by("DiskConfig", json!({"path": "/d", "image_type": "Raw"})),
        since_51
    );
    // What DiskConfig::typed adds is for v51+ only; without it, all take it.
    let typed = serde_json::to_value(examples::typed_disk()).expect("serialise");
    assert_eq!(accepted_by("DiskConfig", typed), since_51);
    let untyped = serde_json::to_value(examples::disk()).expect("serialise");
    assert_eq!(accepted_by("DiskConfig", untyped), all);
    assert_eq!(
        accepted_by(
            "CpusConfig",
            json!({"boot_vcpus": 1, "max_vcpus": 1, "nested": true})
        ),
        since_51
    );
    assert_eq!(
        accepted_by("DiskConfig", json!({"path": "/d", "pci_device_id": 5})),
        only_53
    );
    assert_eq!(
        accepted_by("MemoryConfig", json!({"size": 1, "reserve": true})),
        only_53
    );
    assert_eq!(
        accepted_by(
            "RestoreConfig",
            json!({"source_url": "file:///s", "resume": true})
        ),
        only_53
    );
    assert_eq!(
        accepted_by(
            "RestoreConfig",
            json!({"source_url": "file:///s", "memory_restore_mode": "OnDemand"})
        ),
        only_53
    );
    assert_eq!(
        accepted_by("PlatformConfig", json!({"iommu_address_width": 48})),
        before_53
    );
    assert_eq!(
        accepted_by("PlatformConfig", json!({"iommu_address_width_bits": 48})),
        only_53
    );
    // v53 gave the serial port its own schema, without `iommu`.
    assert_eq!(
        accepted_by(
            "VmConfig",
            json!({"payload": {}, "serial": {"mode": "Pty", "iommu": false}})
        ),
        before_53
    );
    // v53 no longer requires a VFIO device path.
    assert_eq!(accepted_by("DeviceConfig", json!({"id": "gpu0"})), only_53);
    assert_eq!(
        accepted_by("DiskConfig", json!({"path": "/d", "readonly": true})),
        all
    );

    let specs = all_specs();
    let has = |spec: &Spec, path: &str| spec.operation("put", path).is_some();
    let versions = |path: &str| -> Vec<&str> {
        specs
            .iter()
            .filter(|s| has(s, path))
            .map(|s| s.version)
            .collect()
    };
    assert_eq!(versions("/vm.resize-disk"), since_51);
    assert_eq!(versions("/vm.add-generic-vhost-user"), only_53);
    assert_eq!(versions("/vmm.nmi"), before_53);
    assert_eq!(versions("/vm.nmi"), only_53);
}
