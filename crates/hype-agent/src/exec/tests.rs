//! Execs of real processes, driven through a real session.

use std::time::{Duration, Instant};

use hype_agent_proto::{GuestMessage, HostMessage, StreamErrorCode, WINDOW};

use crate::testhost::{gone_within, Host};

#[test]
fn exit_codes_and_signals() {
    let mut host = Host::start();
    for (id, script, code, signal) in [
        (1, "exit 0", Some(0), None),
        (2, "exit 3", Some(3), None),
        (3, "kill -TERM $$", None, Some("SIGTERM")),
    ] {
        let req = host.exec(id, &["sh", "-c", script]);
        host.send(&HostMessage::Exec(Box::new(req)));
        let out = host.collect(id);
        assert_eq!(
            (out.code, out.signal.as_deref()),
            (code, signal),
            "{script}"
        );
        assert!(out.pid > 0 && !out.timed_out);
        assert_eq!(out.eofs, [1, 2]);
    }
    host.close();
}

#[test]
fn stdout_and_stderr_are_apart_and_stdin_goes_through() {
    let mut host = Host::start();
    let req = host.exec(1, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    host.send(&HostMessage::Exec(Box::new(req)));
    let out = host.collect(1);
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.code, Some(3));

    let mut req = host.exec(2, &["cat"]);
    req.stdin = true;
    host.send(&HostMessage::Exec(Box::new(req)));
    host.data(2, b"hello ");
    host.data(2, b"world\n");
    host.send(&HostMessage::Eof { id: 2 });
    let out = host.collect(2);
    assert_eq!(out.stdout, b"hello world\n");
    assert_eq!(out.code, Some(0));
    host.close();
}

#[test]
fn environment_user_and_directory() {
    let mut host = Host::start();
    let mut req = host.exec(1, &["sh", "-c", "echo $FOO:$LANG:$TERM:$(pwd)"]);
    req.env.insert("FOO".into(), "bar".into());
    req.cwd = Some("/tmp".into());
    host.send(&HostMessage::Exec(Box::new(req)));
    assert_eq!(host.collect(1).stdout, b"bar:C.UTF-8::/tmp\n");

    let mut missing = host.exec(2, &["no-such-program-hype"]);
    host.send(&HostMessage::Exec(Box::new(missing.clone())));
    let GuestMessage::Error { code, message, .. } = host.recv_for(2) else {
        panic!("no error")
    };
    assert_eq!(code, StreamErrorCode::NotFound);
    assert!(message.contains("no-such-program-hype"), "{message}");

    missing.id = 3;
    missing.cmd = vec!["true".into()];
    missing.user = Some("mallory-hype".into());
    host.send(&HostMessage::Exec(Box::new(missing.clone())));
    let GuestMessage::Error { code, message, .. } = host.recv_for(3) else {
        panic!("no error")
    };
    assert_eq!(code, StreamErrorCode::NotFound);
    assert_eq!(message, "no user \"mallory-hype\" in the guest");

    missing.id = 4;
    missing.user = None;
    missing.cwd = Some("/no/such/dir".into());
    host.send(&HostMessage::Exec(Box::new(missing)));
    let GuestMessage::Error { code, message, .. } = host.recv_for(4) else {
        panic!("no error")
    };
    assert_eq!(code, StreamErrorCode::NotFound);
    assert!(message.starts_with("/no/such/dir: "), "{message}");

    // SAFETY: geteuid has no preconditions.
    if unsafe { nix::libc::geteuid() } == 0 {
        let mut req = host.exec(5, &["id", "-u"]);
        req.user = Some("nobody".into());
        host.send(&HostMessage::Exec(Box::new(req)));
        assert_eq!(host.collect(5).stdout, b"65534\n");
    }
    host.close();
}

#[test]
fn a_pty_has_the_size_set_and_ctrl_c_interrupts() {
    let mut host = Host::start();
    let mut req = host.exec(1, &["sh", "-c", "stty size; read line; stty size"]);
    req.tty = Host::tty((24, 80));
    host.send(&HostMessage::Exec(Box::new(req)));
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("24 80") {
        match host.recv_for(1) {
            GuestMessage::Data { data, .. } => seen.extend(data.0),
            GuestMessage::Started { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    host.send(&HostMessage::Resize {
        id: 1,
        rows: 50,
        cols: 132,
    });
    host.data(1, b"go\n");
    let out = host.collect(1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("50 132"), "{text:?}");
    assert_eq!(out.code, Some(0));
    assert_eq!(out.eofs, [1], "a PTY is one output");

    let mut req = host.exec(2, &["sleep", "100"]);
    req.tty = Host::tty((24, 80));
    host.send(&HostMessage::Exec(Box::new(req)));
    let started = Instant::now();
    host.data(2, b"\x03");
    let out = host.collect(2);
    assert_eq!(out.signal.as_deref(), Some("SIGINT"));
    assert!(started.elapsed() < Duration::from_secs(10));
    host.close();
}

#[test]
fn timeouts_kill_and_say_so() {
    let mut host = Host::start();
    let mut req = host.exec(1, &["sleep", "100"]);
    req.timeout_ms = Some(300);
    let started = Instant::now();
    host.send(&HostMessage::Exec(Box::new(req)));
    let out = host.collect(1);
    assert!(out.timed_out);
    assert_eq!(out.signal.as_deref(), Some("SIGKILL"));
    assert!(started.elapsed() < Duration::from_secs(10));
    host.close();
}

#[test]
fn what_an_exec_leaves_behind_ends_with_it() {
    let mut host = Host::start();
    let req = host.exec(1, &["sh", "-c", "sleep 100 & echo $!"]);
    let started = Instant::now();
    host.send(&HostMessage::Exec(Box::new(req)));
    let out = host.collect(1);
    assert_eq!(out.code, Some(0));
    let sleeper: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(gone_within(sleeper, Duration::from_secs(3)));
    assert!(started.elapsed() < Duration::from_secs(10));
    host.close();
}

#[test]
fn signals_and_cancel_reach_the_group() {
    let mut host = Host::start();
    let req = host.exec(1, &["sleep", "100"]);
    host.send(&HostMessage::Exec(Box::new(req)));
    assert!(matches!(host.recv_for(1), GuestMessage::Started { .. }));
    host.send(&HostMessage::Signal {
        id: 1,
        signal: "SIGNOPE".into(),
    });
    let GuestMessage::Notice { message } = host.recv() else {
        panic!("no notice")
    };
    assert!(message.contains("SIGNOPE"), "{message}");
    host.send(&HostMessage::Signal {
        id: 1,
        signal: "SIGUSR1".into(),
    });
    assert_eq!(host.collect(1).signal.as_deref(), Some("SIGUSR1"));

    let req = host.exec(2, &["sleep", "100"]);
    host.send(&HostMessage::Exec(Box::new(req)));
    let GuestMessage::Started { pid, .. } = host.recv_for(2) else {
        panic!("not started")
    };
    host.send(&HostMessage::Cancel { id: 2 });
    assert!(gone_within(pid, Duration::from_secs(3)));
    // Nothing more of stream 2, but the session goes on.
    host.send(&HostMessage::Ping { id: 9 });
    assert_eq!(host.recv(), GuestMessage::Pong { id: 9 });
    host.close();
}

#[test]
fn output_never_runs_ahead_of_credit() {
    const TOTAL: usize = 10 << 20;
    let mut host = Host::start();
    let req = host.exec(1, &["head", "-c", &TOTAL.to_string(), "/dev/zero"]);
    host.send(&HostMessage::Exec(Box::new(req)));
    assert!(matches!(host.recv_for(1), GuestMessage::Started { .. }));
    let mut received = 0u64;
    let mut granted = WINDOW;
    let mut out = Vec::new();
    loop {
        // Without credit, the guest stops at the window.
        if received == granted {
            // The first stall is watched longer; later ones just briefly.
            let wait = if granted == WINDOW { 300 } else { 20 };
            assert!(
                host.quiet_for(Duration::from_millis(wait)),
                "sent beyond credit"
            );
            let more = 1_000_000;
            granted += more;
            host.send(&HostMessage::Credit { id: 1, bytes: more });
        }
        match host.recv_for(1) {
            GuestMessage::Data { data, .. } => {
                received += data.0.len() as u64;
                assert!(received <= granted, "{received} > {granted}");
                out.push(data.0.len());
            }
            GuestMessage::Eof { .. } => {}
            GuestMessage::Exited { code, .. } => {
                assert_eq!(code, Some(0));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received, TOTAL as u64);
    assert!(out.iter().all(|&n| n <= hype_agent_proto::CHUNK));
    host.close();
}

#[test]
fn a_session_that_ends_takes_its_processes_along() {
    let mut host = Host::start();
    let req = host.exec(1, &["sleep", "100"]);
    host.send(&HostMessage::Exec(Box::new(req)));
    let GuestMessage::Started { pid, .. } = host.recv_for(1) else {
        panic!("not started")
    };
    host.close();
    assert!(gone_within(pid, Duration::from_secs(3)));
}

#[test]
fn a_hello_ends_the_streams_of_the_connection_before() {
    let mut host = Host::start();
    let req = host.exec(1, &["sleep", "100"]);
    host.send(&HostMessage::Exec(Box::new(req)));
    let GuestMessage::Started { pid, .. } = host.recv_for(1) else {
        panic!("not started")
    };
    // As a host that reconnected before the guest saw it go.
    host.send(&HostMessage::Hello);
    assert!(matches!(host.recv(), GuestMessage::Ready { .. }));
    assert!(gone_within(pid, Duration::from_secs(3)));
    // Nothing of the old stream follows.
    assert!(host.quiet_for(Duration::from_millis(300)));
    host.close();
}

#[test]
fn too_many_streams_are_busy() {
    let mut host = Host::start();
    let mut pids = Vec::new();
    for id in 0..crate::streams::MAX_STREAMS as u64 {
        let req = host.exec(id, &["sleep", "100"]);
        host.send(&HostMessage::Exec(Box::new(req)));
        let GuestMessage::Started { pid, .. } = host.recv_for(id) else {
            panic!("not started")
        };
        pids.push(pid);
    }
    let req = host.exec(999, &["true"]);
    host.send(&HostMessage::Exec(Box::new(req)));
    let GuestMessage::Error { code, .. } = host.recv_for(999) else {
        panic!("no error")
    };
    assert_eq!(code, StreamErrorCode::Busy);
    host.close();
    for pid in pids {
        assert!(gone_within(pid, Duration::from_secs(5)), "{pid}");
    }
}
