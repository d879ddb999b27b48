//! Guest access end to end, against real guests: exec (whole, and live over
//! the WebSocket with a PTY), files both ways (100 MiB bit-exact), `hype
//! vms exec` and `hype vms cp`, every bad input's code, and a hyped killed
//! in the middle of an upload.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;
use futures::StreamExt;
use hype_client::{ExecFrame, UploadTo};
use hype_types::{ExecControl, ExecStreamQuery};
use serde_json::{json, Value};
use sha2::Digest;

async fn call(s: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let c = reqwest::Client::new();
    let url = format!("{}{path}", s.base);
    let b = match method {
        "get" => c.get(url),
        "put" => c.put(url),
        "delete" => c.delete(url),
        _ => c.post(url),
    };
    let b = match body {
        Some(v) => b.json(&v),
        None => b,
    };
    let r = b.send().await.expect("hyped answers");
    let st = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn exec(s: &Server, vm: &str, body: Value) -> Value {
    let (st, v) = call(s, "post", &format!("/api/v1/vms/{vm}/exec"), Some(body)).await;
    assert_eq!(st, 200, "{v}");
    v
}

/// The error code of a refused call, checked against its status.
async fn refused(s: &Server, method: &str, path: &str, body: Option<Value>, status: u16) -> String {
    let (st, v) = call(s, method, path, body).await;
    assert_eq!(st, status, "{method} {path}: {v}");
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn vm_json(name: &str) -> hype_types::CreateVm {
    serde_json::from_value(json!({"name": name, "cpu_cores": 1, "memory_mb": 512}))
        .expect("a create")
}

// The guard orders whole tests, each on a runtime and thread of its own.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn exec_files_and_the_cli_on_a_base_guest() -> anyhow::Result<()> {
    let _turn = common::browser_turn();
    let tmp = tempfile::tempdir()?;
    let s = Server::start_in(tmp.path(), &["--max-execs-per-vm", "2"])?;
    let hype = common::hype_binary()?;
    s.client.create_vm(&vm_json("g")).await?;
    s.wait_running("g", Duration::from_secs(180)).await?;

    // Output, exit codes and signals.
    let r = exec(
        &s,
        "g",
        json!({"cmd": ["sh", "-c", "echo out; echo err >&2; exit 3"]}),
    )
    .await;
    assert_eq!(
        (
            r["exit_code"].as_i64(),
            r["stdout"].as_str(),
            r["stderr"].as_str()
        ),
        (Some(3), Some("out\n"), Some("err\n")),
        "{r}"
    );
    let r = exec(&s, "g", json!({"cmd": ["true"]})).await;
    assert_eq!(r["exit_code"], 0, "{r}");
    let r = exec(&s, "g", json!({"cmd": ["sh", "-c", "kill -9 $$"]})).await;
    assert_eq!(
        (r["exit_code"].clone(), r["signal"].as_str()),
        (Value::Null, Some("SIGKILL")),
        "{r}"
    );
    // stdin, env, cwd, the default (unprivileged) user and root.
    let r = exec(&s, "g", json!({"cmd": ["cat"], "stdin": "piped through"})).await;
    assert_eq!(r["stdout"], "piped through", "{r}");
    // Without stdin a reader sees its end at once.
    let r = exec(&s, "g", json!({"cmd": ["cat"]})).await;
    assert_eq!(
        (r["exit_code"].as_i64(), r["stdout"].as_str()),
        (Some(0), Some("")),
        "{r}"
    );
    // ... and the agent was sent nothing for a stdin it does not have.
    let console = std::fs::read_to_string(s.data.join("vms/g/console.log"))?;
    assert!(
        !console.contains("takes none"),
        "stray stdin reached the agent: {console}"
    );
    let r = exec(
        &s,
        "g",
        json!({"cmd": ["sh", "-c", "echo $FOO; pwd; id -u"],
        "env": {"FOO": "bar"}, "cwd": "/tmp"}),
    )
    .await;
    assert_eq!(r["stdout"], "bar\n/tmp\n1000\n", "{r}");
    let r = exec(&s, "g", json!({"cmd": ["id", "-u"], "user": "root"})).await;
    assert_eq!(r["stdout"], "0\n", "{r}");
    // Bytes that are not text come as base64; too much is cut.
    let r = exec(&s, "g", json!({"cmd": ["printf", "\\377"]})).await;
    assert_eq!(
        (r["stdout"].as_str(), r["stdout_encoding"].as_str()),
        (Some("/w=="), Some("base64")),
        "{r}"
    );
    let r = exec(
        &s,
        "g",
        json!({"cmd": ["head", "-c", "3000000", "/dev/zero"]}),
    )
    .await;
    assert_eq!(r["truncated"], true);
    assert_eq!(r["stdout"].as_str().map(str::len), Some(1 << 20));
    // A timeout kills the process and what it started.
    let t = Instant::now();
    let r = exec(
        &s,
        "g",
        json!({"cmd": ["sh", "-c", "sleep 300 & echo $! > /tmp/bg; sleep 100"],
        "timeout_seconds": 2}),
    )
    .await;
    assert_eq!(r["timed_out"], true, "{r}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let r = exec(
        &s,
        "g",
        json!({"cmd": ["sh", "-c", "kill -0 $(cat /tmp/bg) && echo alive || echo gone"]}),
    )
    .await;
    assert_eq!(r["stdout"], "gone\n", "{r}");

    // Bad input, each with its code.
    let ex = "/api/v1/vms/g/exec";
    assert_eq!(
        refused(
            &s,
            "post",
            ex,
            Some(json!({"cmd": ["no-such-program"]})),
            404
        )
        .await,
        "not_found_in_guest"
    );
    assert_eq!(
        refused(
            &s,
            "post",
            ex,
            Some(json!({"cmd": ["ls"], "cwd": "/nope"})),
            404
        )
        .await,
        "not_found_in_guest"
    );
    assert_eq!(
        refused(
            &s,
            "post",
            ex,
            Some(json!({"cmd": ["ls"], "user": "nobody-here"})),
            404
        )
        .await,
        "not_found_in_guest"
    );
    assert_eq!(
        refused(&s, "post", ex, Some(json!({"cmd": []})), 422).await,
        "invalid_request"
    );
    assert_eq!(
        refused(
            &s,
            "post",
            ex,
            Some(json!({"cmd": ["ls"], "shell": true})),
            422
        )
        .await,
        "invalid_body"
    );
    assert_eq!(
        refused(
            &s,
            "post",
            "/api/v1/vms/nope/exec",
            Some(json!({"cmd": ["ls"]})),
            404
        )
        .await,
        "vm_not_found"
    );

    // Live sessions: a PTY with its size, resize and Ctrl-C; the excess
    // over --max-execs-per-vm is refused.
    let q = ExecStreamQuery {
        cmd: vec!["sh".into()],
        tty: true,
        rows: Some(33),
        cols: Some(101),
        stdin: true,
        ..Default::default()
    };
    let (mut w, mut r) = s.client.exec_socket("g", &q).await?;
    let hold = ExecStreamQuery {
        cmd: vec!["sleep".into(), "60".into()],
        ..Default::default()
    };
    let second = s.client.exec_socket("g", &hold).await?;
    let third = s.client.exec_socket("g", &hold).await;
    assert!(
        matches!(&third, Err(hype_client::ClientError::Api { status, code, .. })
        if status.as_u16() == 429 && code == "too_many_execs"),
        "{:?}",
        third.err()
    );
    drop(second);
    let mut seen = String::new();
    async fn read_until(
        r: &mut hype_client::ExecReader,
        seen: &mut String,
        want: &str,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !seen.contains(want) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, r.next()).await {
                Ok(Some(Ok(ExecFrame::Stdout(b)))) => seen.push_str(&String::from_utf8_lossy(&b)),
                Ok(Some(Ok(other))) => anyhow::bail!("{other:?} before {want:?}; seen {seen:?}"),
                Ok(Some(Err(e))) => return Err(e.into()),
                Ok(None) => anyhow::bail!("closed before {want:?}; seen {seen:?}"),
                Err(_) => anyhow::bail!("no {want:?} in 30 s; seen {seen:?}"),
            }
        }
        Ok(())
    }
    w.stdin(b"stty size\n".to_vec()).await?;
    read_until(&mut r, &mut seen, "33 101").await?;
    w.control(&ExecControl::Resize {
        rows: 40,
        cols: 120,
    })
    .await?;
    w.stdin(b"stty size\n".to_vec()).await?;
    read_until(&mut r, &mut seen, "40 120").await?;
    let t = Instant::now();
    // The terminal echoes what is typed: the markers are computed.
    w.stdin(b"sleep 100; echo slept-$((1+1))\n".to_vec())
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    w.stdin(vec![3]).await?;
    w.stdin(b"echo after-$((6*7))\n".to_vec()).await?;
    read_until(&mut r, &mut seen, "after-42").await?;
    assert!(!seen.contains("slept-2") && t.elapsed() < Duration::from_secs(30));
    w.stdin(b"exit 7\n".to_vec()).await?;
    let exit = loop {
        match r.next().await {
            Some(Ok(ExecFrame::Exit { code, .. })) => break code,
            Some(Ok(_)) => continue,
            other => anyhow::bail!("no exit: {other:?}"),
        }
    };
    assert_eq!(exit, Some(7));

    // The CLI: the exit status passed through, stdin with -i.
    let out = Command::new(&hype)
        .args([
            "--api-base",
            &s.base,
            "vms",
            "exec",
            "g",
            "--",
            "sh",
            "-c",
            "echo hi; exit 5",
        ])
        .output()?;
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).as_ref()
        ),
        (Some(5), "hi\n")
    );
    let mut child = Command::new(&hype)
        .args([
            "--api-base",
            &s.base,
            "vms",
            "exec",
            "-i",
            "g",
            "--",
            "wc",
            "-c",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(&[b'x'; 100_000])?;
    }
    let out = child.wait_with_output()?;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "100000");
    assert_eq!(out.status.code(), Some(0));

    // 100 MiB up and down, bit-exact, streamed.
    let big = tmp.path().join("big.bin");
    let mut data = vec![0u8; 100 << 20];
    for (i, chunk) in data.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
    }
    std::fs::write(&big, &data)?;
    let want = sha(&data);
    drop(data);
    let t = Instant::now();
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(
        tokio::fs::File::open(&big).await?,
    ));
    let to = UploadTo {
        path: "/tmp/big.bin",
        mode: Some("0600"),
        owner: None,
        archive: false,
    };
    let up = s.client.upload("g", &to, body).await?;
    let up_secs = t.elapsed().as_secs_f64();
    assert_eq!(up.bytes, 100 << 20);
    let r = exec(&s, "g", json!({"cmd": ["sha256sum", "/tmp/big.bin"]})).await;
    assert!(r["stdout"].as_str().unwrap_or("").starts_with(&want), "{r}");
    let t = Instant::now();
    let mut got = s.client.download_path("g", "/tmp/big.bin").await?;
    let mut h = sha2::Sha256::new();
    let mut n = 0usize;
    while let Some(chunk) = got.body.next().await {
        let chunk = chunk?;
        n += chunk.len();
        h.update(&chunk);
    }
    let down_secs = t.elapsed().as_secs_f64();
    assert_eq!((n, hex::encode(h.finalize())), (100 << 20, want));
    eprintln!(
        "100 MiB: upload {:.1} MiB/s, download {:.1} MiB/s",
        100.0 / up_secs,
        100.0 / down_secs
    );
    let (st, stat) = call(
        &s,
        "get",
        "/api/v1/vms/g/files/stat?path=/tmp/big.bin",
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        (
            stat["size"].as_u64(),
            stat["mode"].as_str(),
            stat["uid"].as_u64()
        ),
        (Some(100 << 20), Some("0600"), Some(1000)),
        "{stat}"
    );
    let (st, _) = call(&s, "delete", "/api/v1/vms/g/files?path=/tmp/big.bin", None).await;
    assert_eq!(st, 204);

    // Directories with `hype vms cp`, both ways, equal by diff -r.
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("sub/deeper"))?;
    std::fs::write(tree.join("a.txt"), "alpha\n")?;
    std::fs::write(tree.join("sub/deeper/b.bin"), [0u8, 1, 2, 255])?;
    std::os::unix::fs::symlink("a.txt", tree.join("link"))?;
    let cp = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new(&hype)
            .args(["--api-base", &s.base, "vms", "cp"])
            .args(args)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "cp {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    cp(&[tree.to_str().unwrap(), "g:/tmp/"])?;
    let (st, list) = call(&s, "get", "/api/v1/vms/g/files/list?path=/tmp/tree", None).await;
    assert_eq!(st, 200, "{list}");
    let names: Vec<&str> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["a.txt", "link", "sub"], "{list}");
    let back = tmp.path().join("back");
    cp(&["g:/tmp/tree", back.to_str().unwrap()])?;
    let diff = Command::new("diff")
        .arg("-r")
        .arg("--no-dereference")
        .arg(&tree)
        .arg(&back)
        .output()?;
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    cp(&[tree.join("a.txt").to_str().unwrap(), "g:/tmp/single.txt"])?;
    let r = exec(&s, "g", json!({"cmd": ["cat", "/tmp/single.txt"]})).await;
    assert_eq!(r["stdout"], "alpha\n");

    // Files' bad input.
    let f = "/api/v1/vms/g/files";
    assert_eq!(
        refused(&s, "get", &format!("{f}?path=/nope"), None, 404).await,
        "not_found_in_guest"
    );
    assert_eq!(
        refused(&s, "get", &format!("{f}?path=tmp"), None, 422).await,
        "invalid_request"
    );
    assert_eq!(
        refused(&s, "put", &format!("{f}?path=/tmp"), None, 409).await,
        "is_a_directory"
    );
    assert_eq!(
        refused(&s, "put", &format!("{f}?path=/nope/x"), None, 404).await,
        "not_found_in_guest"
    );
    assert_eq!(
        refused(
            &s,
            "get",
            &format!("{f}/list?path=/tmp/single.txt"),
            None,
            409
        )
        .await,
        "not_a_directory"
    );
    assert_eq!(
        refused(&s, "delete", &format!("{f}?path=/tmp/tree"), None, 409).await,
        "directory_not_empty"
    );
    assert_eq!(
        refused(&s, "put", &format!("{f}?path=/tmp/x&mode=999"), None, 422).await,
        "invalid_request"
    );
    assert_eq!(
        refused(&s, "get", &format!("{f}?path=/tmp&bogus=1"), None, 400).await,
        "invalid_query"
    );
    let (st, _) = call(
        &s,
        "delete",
        &format!("{f}?path=/tmp/tree&recursive=true"),
        None,
    )
    .await;
    assert_eq!(st, 204);
    // No space: a 1 MiB tmpfs, a 3 MiB upload; nothing of it stays.
    exec(&s, "g", json!({"cmd": ["sh", "-c", "mkdir -p /small && mount -t tmpfs -o size=1m tmpfs /small && chmod 777 /small"], "user": "root"})).await;
    let (st, v) = {
        let r = reqwest::Client::new()
            .put(format!("{}{f}?path=/small/x", s.base))
            .body(vec![7u8; 3 << 20])
            .send()
            .await?;
        (r.status().as_u16(), r.text().await?)
    };
    assert_eq!(st, 507, "{v}");
    assert!(
        v.contains("no_space_in_guest") && v.contains("No space left"),
        "{v}"
    );
    let r = exec(&s, "g", json!({"cmd": ["ls", "-A", "/small"]})).await;
    assert_eq!(r["stdout"], "", "{r}");

    // hyped killed in the middle of an upload: after a restart the VM runs,
    // its agent answers, and no partial file is left.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let slow = reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let client = s.client.clone();
    let upload = tokio::spawn(async move {
        let to = UploadTo {
            path: "/tmp/partial.bin",
            mode: None,
            owner: None,
            archive: false,
        };
        client.upload("g", &to, slow).await
    });
    for _ in 0..8 {
        tx.send(Ok(vec![1u8; 64 << 10])).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.hyped_pid().expect("running") as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    assert!(upload.await?.is_err());
    drop(tx);
    let mut old = s;
    old.stop();
    let s = Server::start_in(tmp.path(), &["--max-execs-per-vm", "2"])?;
    s.wait_running("g", Duration::from_secs(60)).await?;
    let r = exec(&s, "g", json!({"cmd": ["ls", "-A", "/tmp"]})).await;
    let left = r["stdout"].as_str().unwrap_or("");
    assert!(!left.contains("partial"), "{r}");

    // A stopped VM: its state, as for every other action.
    s.client.vm_action("g", "stop").await?;
    assert_eq!(
        refused(&s, "post", ex, Some(json!({"cmd": ["true"]})), 409).await,
        "invalid_state"
    );
    assert_eq!(
        refused(&s, "get", &format!("{f}/stat?path=/"), None, 409).await,
        "invalid_state"
    );
    s.client.delete_vm("g").await?;
    drop(old);
    Ok(())
}
