//! `POST /api/v1/sources/inventory`: a real hyped listing the VMs of
//! govmomi's vCenter simulator (tests/vsphere/vcsim) and of the test XAPI
//! server, and refusing what it must (a wrong password, no password,
//! hyped's own password over http) without ever echoing a password.

mod common;

use common::vcsim::{self, Sim};
use common::xapi::{xapi, PASSWORD as XCP_PASSWORD};
use common::Server;
use serde_json::{json, Value};

const VC_USER: &str = "vc-admin";
const VC_PASSWORD: &str = "vc-inventory-pw";

fn vcsim(extra: &[&str]) -> anyhow::Result<Sim> {
    vcsim::spawn(vcsim::command(VC_USER, VC_PASSWORD)?.args(extra))
}

async fn inventory(s: &Server, body: &Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/sources/inventory", s.base))
        .json(body)
        .send()
        .await
        .expect("hyped answers");
    let st = res.status().as_u16();
    (st, res.json().await.unwrap_or(Value::Null))
}

fn vm<'a>(inv: &'a Value, name: &str) -> &'a Value {
    inv["vms"]
        .as_array()
        .and_then(|vms| vms.iter().find(|v| v["name"] == name))
        .unwrap_or_else(|| panic!("no VM {name} in {inv}"))
}

#[tokio::test]
async fn vsphere_inventory_lists_the_simulator_s_vms_with_power_disks_and_templates(
) -> anyhow::Result<()> {
    let sim = vcsim(&["-templates", "DC0_C0_RP0_VM1"])?;
    let s = Server::start()?;
    let body = json!({"kind": "vsphere", "url": sim.1, "username": VC_USER,
        "password": VC_PASSWORD, "insecure": true});
    let (st, inv) = inventory(&s, &body).await;
    assert_eq!(st, 200, "{inv}");
    assert_eq!(inv["kind"], "vsphere");
    let names: Vec<&str> = inv["vms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "DC0_C0_RP0_VM0",
            "DC0_C0_RP0_VM1",
            "DC0_H0_VM0",
            "DC0_H0_VM1"
        ],
        "sorted by name: {inv}"
    );
    // The simulator leaves DC0_H0_VM1 on (its -powered-on default).
    let on = vm(&inv, "DC0_H0_VM1");
    assert_eq!(on["power_state"], "on");
    assert_eq!(on["template"], false);
    let two = vm(&inv, "DC0_H0_VM0");
    assert_eq!(two["power_state"], "off");
    assert_eq!(two["path"], "/DC0/vm/DC0_H0_VM0", "{two}");
    assert_eq!(two["firmware"], "bios");
    assert!(
        two["guest_os"].as_str().is_some_and(|g| !g.is_empty()),
        "{two}"
    );
    let disks = two["disks"].as_array().unwrap();
    assert_eq!(
        disks.len(),
        2,
        "vcsim-hype gives DC0_H0_VM0 a second disk: {two}"
    );
    assert_eq!(disks[0]["size_bytes"], 1 << 20);
    assert_eq!(disks[1]["size_bytes"], 2 << 20);
    assert_eq!(disks[1]["label"], "Hard disk 2");
    for d in disks {
        assert!(
            ["scsi", "ide", "sata", "nvme"].contains(&d["bus"].as_str().unwrap()),
            "{d}"
        );
    }
    let nics = two["nics"].as_array().unwrap();
    assert!(!nics.is_empty(), "{two}");
    assert!(nics[0]["mac"].as_str().is_some(), "{two}");
    assert_eq!(vm(&inv, "DC0_C0_RP0_VM1")["template"], true);
    assert_eq!(vm(&inv, "DC0_C0_RP0_VM0")["template"], false);
    // A path from the listing is what a job's `vm` takes.
    assert!(vm(&inv, "DC0_C0_RP0_VM0")["path"]
        .as_str()
        .is_some_and(|p| p.starts_with("/DC0/vm/")));

    // A template asked for as a VM: the job fails saying so, no image.
    let job = json!({"kind": "vsphere_export", "url": sim.1, "username": VC_USER,
        "password": VC_PASSWORD, "vm": "/DC0/vm/DC0_C0_RP0_VM1", "insecure": true,
        "name": "from-template"});
    let job = s
        .client
        .submit_jobs(job.to_string().into_bytes(), "application/json")
        .await?
        .remove(0);
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, hype_types::JobState::Failed);
    let why = end.error.unwrap_or_default();
    assert!(why.contains("DC0_C0_RP0_VM1 is a template"), "{why}");
    assert!(s.client.get_image("from-template").await.is_err());

    // A wrong password: 422 naming the source and the user, not the password.
    let wrong = json!({"kind": "vsphere", "url": sim.1, "username": VC_USER,
        "password": "not-the-pw-42", "insecure": true});
    let (st, e) = inventory(&s, &wrong).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("source_login_failed")),
        "{e}"
    );
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&sim.1) && msg.contains(VC_USER), "{msg}");
    assert!(!msg.contains("not-the-pw-42"), "{msg}");
    // Certificates are checked unless `insecure`: the simulator's is self-signed.
    let checked = json!({"kind": "vsphere", "url": sim.1, "username": VC_USER,
        "password": VC_PASSWORD});
    let (st, e) = inventory(&s, &checked).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("source_certificate")),
        "{e}"
    );
    Ok(())
}

#[tokio::test]
async fn xcpng_inventory_marks_templates_and_hides_dom0_and_builtin_templates() -> anyhow::Result<()>
{
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("d.raw");
    std::fs::write(&disk, vec![7u8; 3 << 20])?;
    let x = xapi(&disk, &["--running", "Web 01"])?;
    let s = Server::start()?;
    let body = json!({"kind": "xcpng", "url": x.url, "username": "root",
        "password": XCP_PASSWORD});
    let (st, inv) = inventory(&s, &body).await;
    assert_eq!(st, 200, "{inv}");
    let names: Vec<&str> = inv["vms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    // dom0 and XCP-ng's own default templates are not listed.
    assert_eq!(names, ["Debian Template", "Web 01"], "{inv}");
    let web = vm(&inv, "Web 01");
    assert_eq!(web["power_state"], "on");
    assert_eq!(web["template"], false);
    assert_eq!(web["guest_os"], "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(web["firmware"], "bios");
    assert_eq!(
        (web["cpus"].as_u64(), web["memory_mb"].as_u64()),
        (Some(2), Some(1024))
    );
    assert!(web["uuid"].as_str().is_some_and(|u| u.len() == 36), "{web}");
    let disks = web["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 1, "the CD drive is not a disk: {web}");
    assert_eq!(disks[0]["size_bytes"], 3 << 20);
    assert_eq!(disks[0]["bus"], "xen");
    assert_eq!(disks[0]["slot"], "0");
    let nics = web["nics"].as_array().unwrap();
    assert_eq!(nics.len(), 1);
    assert_eq!(nics[0]["network"], "Pool-wide network associated with eth0");
    assert_eq!(vm(&inv, "Debian Template")["template"], true);

    // A template asked for as a VM: the job fails saying so.
    let job = json!({"kind": "xcpng_export", "url": x.url, "username": "root",
        "password": XCP_PASSWORD, "vm": "Debian Template", "name": "xcp-template"});
    let job = s
        .client
        .submit_jobs(job.to_string().into_bytes(), "application/json")
        .await?
        .remove(0);
    let end = s.wait_job(&job.id).await?;
    assert_eq!(end.state, hype_types::JobState::Failed);
    let why = end.error.unwrap_or_default();
    assert!(why.contains("'Debian Template' is a template"), "{why}");

    let wrong = json!({"kind": "xcpng", "url": x.url, "username": "root",
        "password": "wrong-xcp-pw-9"});
    let (st, e) = inventory(&s, &wrong).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("source_login_failed")),
        "{e}"
    );
    assert!(!e.to_string().contains("wrong-xcp-pw-9"), "{e}");
    Ok(())
}

#[tokio::test]
async fn inventory_passwords_follow_the_rules_of_jobs() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let disk = tmp.path().join("d.raw");
    std::fs::write(&disk, vec![0u8; 1 << 20])?;
    let x = xapi(&disk, &[])?;
    // No password anywhere: 422 missing_password.
    let s = Server::start()?;
    let body = json!({"kind": "xcpng", "url": x.url, "username": "root"});
    let (st, e) = inventory(&s, &body).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("missing_password")),
        "{e}"
    );
    drop(s);
    // hyped's own password exists and the host is listed, but the URL is
    // http: the password is not sent in clear.
    let s = Server::start_with_env(
        &["--import-allow-host", "127.0.0.1"],
        &[("HYPE_XCPNG_PASSWORD", XCP_PASSWORD)],
    )?;
    let (st, e) = inventory(&s, &body).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("env_password_refused")),
        "{e}"
    );
    // Not a request: unknown fields are refused before anything is sent.
    let extra = json!({"kind": "xcpng", "url": x.url, "username": "root", "vm": "x"});
    let (st, e) = inventory(&s, &extra).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "{e}"
    );
    let bad_url = json!({"kind": "xcpng", "url": "xcp1", "username": "root", "password": "p"});
    let (st, e) = inventory(&s, &bad_url).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("invalid_url")),
        "{e}"
    );
    // Nothing listens there: 502 naming the source.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let gone = json!({"kind": "xcpng", "url": dead, "username": "root", "password": "p"});
    let (st, e) = inventory(&s, &gone).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (502, Some("source_unreachable")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains(&dead),
        "{e}"
    );
    Ok(())
}
