//! The REST API's edges: bad input, auth, and every answer checked against
//! the OpenAPI document the server itself publishes.

mod common;

use common::Server;
use serde_json::{json, Value};

/// Validates `body` against the documented response of `method path` for
/// `status`; fails if the status is undocumented.
fn check_against_openapi(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let op = &doc["paths"][path][method];
    assert!(
        op.is_object(),
        "{method} {path} is not in the OpenAPI document"
    );
    let resp = &op["responses"][status.to_string()];
    assert!(
        resp.is_object(),
        "{method} {path} answered {status}, which is undocumented"
    );
    let Some(schema) = resp["content"]["application/json"]["schema"].as_object() else {
        return;
    };
    let mut root = Value::Object(schema.clone());
    root["components"] = doc["components"].clone();
    let validator = jsonschema::validator_for(&root).expect("the document's schemas compile");
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{body:#}"
    );
}

async fn call(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", s.base));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_gets_a_precise_error_and_leaves_nothing() -> anyhow::Result<()> {
    let s = Server::start()?;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", s.base))
        .await?
        .json()
        .await?;
    s.create_running("taken").await?;
    let cases: &[(&str, u16, &str, &str)] = &[
        (
            r#"{"name":"Bad_Name"}"#,
            422,
            "invalid_name",
            "invalid VM name \"Bad_Name\"",
        ),
        (r#"{"name":"-x"}"#, 422, "invalid_name", "invalid VM name"),
        (
            r#"{"name":"x","cpu_cores":0}"#,
            422,
            "invalid_cpu_cores",
            "at least 1",
        ),
        (
            r#"{"name":"x","cpu_cores":4096}"#,
            422,
            "invalid_cpu_cores",
            "more than this host's",
        ),
        (
            r#"{"name":"x","memory_mb":16}"#,
            422,
            "invalid_memory_mb",
            "below the minimum",
        ),
        (
            r#"{"name":"x","memory_mb":99999999}"#,
            422,
            "invalid_memory_mb",
            "more than this host's",
        ),
        (
            r#"{"name":"x","image":"nope"}"#,
            404,
            "image_not_found",
            "no image named 'nope'",
        ),
        (
            r#"{"name":"x","vmm":"vmware"}"#,
            422,
            "invalid_body",
            "unknown variant `vmware`",
        ),
        (
            r#"{"name":"x","cpus":2}"#,
            422,
            "invalid_body",
            "unknown field `cpus`",
        ),
        (
            r#"{"cpu_cores":1}"#,
            422,
            "invalid_body",
            "missing field `name`",
        ),
        (
            r#"{"name":"x","cpu_cores":"two"}"#,
            422,
            "invalid_body",
            "invalid type",
        ),
        (
            r#"{"name":"x","kernel_cmdline":"hype.id=1"}"#,
            422,
            "invalid_kernel_cmdline",
            "hype.*",
        ),
        // Quotes do not hide a parameter: the agent would read hype.ip.
        (
            r#"{"name":"x","kernel_cmdline":"quiet \"hype.ip\"=10.0.0.9/24"}"#,
            422,
            "invalid_kernel_cmdline",
            "hype.*",
        ),
        (r#"{"name":"x""#, 400, "malformed_json", "not valid JSON"),
        (r#"not json"#, 400, "malformed_json", "not valid JSON"),
        (
            r#"{"name":"taken"}"#,
            409,
            "name_taken",
            "a VM named 'taken' already exists",
        ),
    ];
    for (body, status, code, msg) in cases {
        let (got, err) = call(&s, reqwest::Method::POST, "/api/v1/vms", Some(body)).await?;
        assert_eq!(got, *status, "{body} -> {err}");
        assert_eq!(err["error"]["code"], *code, "{body} -> {err}");
        let text = err["error"]["message"].as_str().unwrap_or("");
        assert!(text.contains(msg), "{body}: message {text:?} lacks {msg:?}");
        check_against_openapi(&doc, "post", "/api/v1/vms", got, &err);
    }
    // A query that does not parse is a 400 of its own, never the 409 of
    // a VM in the wrong state.
    let (got, err) = call(&s, reqwest::Method::GET, "/api/v1/vms?state=dancing", None).await?;
    assert_eq!(
        (got, err["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("unknown variant `dancing`"),
        "{err}"
    );
    check_against_openapi(&doc, "get", "/api/v1/vms", got, &err);
    for (m, path, status, code) in [
        (
            reqwest::Method::GET,
            "/api/v1/vms/nope",
            404,
            "vm_not_found",
        ),
        (
            reqwest::Method::DELETE,
            "/api/v1/vms/nope",
            404,
            "vm_not_found",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/vms/nope/start",
            404,
            "vm_not_found",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/vms/taken/resume",
            409,
            "invalid_state",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/vms/taken/start",
            409,
            "invalid_state",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/vms/taken/restore",
            409,
            "invalid_state",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/images/nope",
            404,
            "image_not_found",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/vms/nope/cdp/json/version",
            404,
            "vm_not_found",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/vms/taken/cdp/json/version",
            409,
            "no_browser",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/vms/taken/screenshot",
            409,
            "no_browser",
        ),
    ] {
        let (got, err) = call(&s, m.clone(), path, None).await?;
        assert_eq!(
            (got, err["error"]["code"].as_str()),
            (status, Some(code)),
            "{m} {path}"
        );
    }
    // Nothing half-made: one VM, one VMM, one directory.
    let vms = s.client.list_vms(None).await?;
    assert_eq!(
        vms.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["taken"]
    );
    assert_eq!(s.vmm_pids().len(), 1);
    assert_eq!(std::fs::read_dir(s.data.join("vms"))?.count(), 1);
    s.client.delete_vm("taken").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn real_answers_match_the_published_openapi_document() -> anyhow::Result<()> {
    let s = Server::start()?;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", s.base))
        .await?
        .json()
        .await?;
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3."));
    for path in [
        "/api/v1/vms",
        "/api/v1/vms/{name}",
        "/api/v1/events/vms",
        "/api/v1/images",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let vm = s.create_running("doc").await?;
    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("hype_vms{state=\"running\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("hype_vms{state=\"stopped\"} 0"));
    let vm = serde_json::to_value(&vm)?;
    check_against_openapi(&doc, "get", "/api/v1/vms/{name}", 200, &vm);
    for (path, tpl) in [
        ("/api/v1/vms", "/api/v1/vms"),
        ("/api/v1/vms/doc", "/api/v1/vms/{name}"),
        ("/api/v1/version", "/api/v1/version"),
        ("/api/v1/images", "/api/v1/images"),
        ("/api/v1/images/base", "/api/v1/images/{name}"),
    ] {
        let (status, body) = call(&s, reqwest::Method::GET, path, None).await?;
        assert_eq!(status, 200, "{path}");
        check_against_openapi(&doc, "get", tpl, status, &body);
    }
    let (status, body) = call(&s, reqwest::Method::POST, "/api/v1/vms/doc/pause", None).await?;
    check_against_openapi(&doc, "post", "/api/v1/vms/{name}/pause", status, &body);
    let (status, body) = call(&s, reqwest::Method::POST, "/api/v1/vms/doc/snapshot", None).await?;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("standby")),
        "{body}"
    );
    check_against_openapi(&doc, "post", "/api/v1/vms/{name}/snapshot", status, &body);
    let (status, body) = call(&s, reqwest::Method::POST, "/api/v1/vms/doc/snapshot", None).await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("invalid_state"))
    );
    check_against_openapi(&doc, "post", "/api/v1/vms/{name}/snapshot", status, &body);
    let (status, body) = call(&s, reqwest::Method::POST, "/api/v1/vms/doc/restore", None).await?;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("running")),
        "{body}"
    );
    check_against_openapi(&doc, "post", "/api/v1/vms/{name}/restore", status, &body);
    // Events as SSE carry the documented Event shape.
    let mut ev = s.client.vm_events(Some("doc"), Some(0)).await?;
    let first = ev.next().await.unwrap()?;
    let mut root = json!({"$ref": "#/components/schemas/Event"});
    root["components"] = doc["components"].clone();
    let v = jsonschema::validator_for(&root)?;
    let data: Value = serde_json::from_str(&first.data)?;
    assert!(v.is_valid(&data), "{data}");
    assert_eq!(first.event.as_deref(), Some("VM_CREATED"));
    assert_eq!(first.id.as_deref(), data["id"].to_string().as_str().into());
    // A document that disagrees with the answer is caught.
    let mut broken = vm.clone();
    broken["state"] = json!("sleeping");
    let caught = std::panic::catch_unwind(|| {
        check_against_openapi(&doc, "get", "/api/v1/vms/{name}", 200, &broken)
    });
    assert!(
        caught.is_err(),
        "an undocumented state must fail validation"
    );
    s.client.delete_vm("doc").await?;
    Ok(())
}

/// Every operation of the document, called with a VM, job or image that
/// does not exist and an empty body: each answers a status its operation
/// documents, with a documented content type. Routes and document come
/// from one list in hype-api; this checks what the server really answers.
#[tokio::test(flavor = "multi_thread")]
async fn every_documented_route_answers_only_documented_statuses() -> anyhow::Result<()> {
    let s = Server::start()?;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", s.base))
        .await?
        .json()
        .await?;
    let http = reqwest::Client::new();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 25, "{} paths", paths.len());
    let mut called = 0;
    for (tpl, item) in paths {
        let path = tpl
            .replace("{name}", "nosuch")
            .replace("{id}", "nosuch")
            .replace("{kind}", "page");
        for (method, op) in item.as_object().expect("path item") {
            let m: reqwest::Method = method.to_uppercase().parse()?;
            let mut req = http.request(m, format!("{}{path}", s.base));
            if op.get("requestBody").is_some() {
                req = req.header("content-type", "application/json").body("{}");
            }
            let resp = req.send().await?;
            let status = resp.status().as_u16().to_string();
            let ct = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .to_owned();
            let documented = &op["responses"][&status];
            assert!(
                documented.is_object(),
                "{method} {tpl} answered {status}, which it does not document"
            );
            if let Some(content) = documented["content"].as_object() {
                assert!(
                    content.contains_key(&ct),
                    "{method} {tpl} {status} answered {ct}, documented: {:?}",
                    content.keys().collect::<Vec<_>>()
                );
            }
            called += 1;
        }
    }
    assert!(called >= 30, "{called} operations");
    // What the document does not list is not served.
    for path in [
        "/api/v1/nope",
        "/api/v1/vms/nosuch/cdp/devtools/page/x/y",
        "/api",
    ] {
        let resp = http.get(format!("{}{path}", s.base)).send().await?;
        assert_eq!(resp.status(), 404, "{path}");
        let body: Value = resp.json().await?;
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    // A trailing slash (as Playwright asks) reaches the documented route.
    let resp = http
        .get(format!("{}/api/v1/vms/nosuch/cdp/json/version/", s.base))
        .send()
        .await?;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await?;
    assert_eq!(body["error"]["code"], "vm_not_found");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_is_required_when_set_and_healthz_stays_open() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let s = Server::start_in(tmp.path(), &["--api-key", "sekrit-key-0123456789"])?;
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/api/v1/vms", s.base)).send().await?;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = http
        .get(format!("{}/api/v1/vms", s.base))
        .bearer_auth("wrong-key")
        .send()
        .await?;
    assert_eq!(r.status(), 401);
    assert_eq!(
        s.client.list_vms(None).await?.len(),
        0,
        "the right key works"
    );
    let r = http.get(format!("{}/healthz", s.base)).send().await?;
    assert_eq!(r.status(), 200);
    // The key is not logged.
    let log = s.log()?;
    assert!(!log.contains("sekrit-key-0123456789"));
    Ok(())
}

#[test]
fn refuses_a_public_listener_without_a_key() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hyped"))
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(tmp.path())
        .output()?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0"), "{err}");
    assert!(!tmp.path().join("hype.db").exists(), "nothing created");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn creates_beyond_max_vms_get_429() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let s = Server::start_in(tmp.path(), &["--max-vms", "1"])?;
    s.create_running("only").await?;
    let (status, err) = call(
        &s,
        reqwest::Method::POST,
        "/api/v1/vms",
        Some(r#"{"name":"second"}"#),
    )
    .await?;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (429, Some("too_many_vms"))
    );
    assert_eq!(s.client.list_vms(None).await?.len(), 1);
    s.client.delete_vm("only").await?;
    Ok(())
}
