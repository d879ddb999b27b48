//! Live links and the screencast's lifetime, in the live view test's
//! sandbox (`the_live_view_shows_a_sandbox_and_takes_it_over`).

use std::time::Duration;

use serde_json::Value;

use super::{browser_with, upgrade_status, Server};

pub(super) use hype_types::LiveLink as Link;

async fn post_link(s: &Server, vm: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/vms/{vm}/live-links", s.base))
        .json(&body)
        .send()
        .await?;
    Ok((r.status().as_u16(), r.json().await?))
}

async fn make_link(s: &Server, vm: &str, body: Value) -> anyhow::Result<Link> {
    let (status, v) = post_link(s, vm, body).await?;
    anyhow::ensure!(status == 201, "{status} {v}");
    Ok(serde_json::from_value(v)?)
}

pub(super) fn link_ws(s: &Server, vm: &str, link: &Link) -> String {
    format!(
        "{}/api/v1/vms/{vm}/live/ws?token={}",
        s.base.replacen("http://", "ws://", 1),
        link.token
    )
}

/// Read-only and interactive links to the running sandbox `lv`, opened in
/// a browser with no cookie; what a link may not open; expiry.
pub(super) async fn live_links(s: &Server) -> anyhow::Result<(Link, Link)> {
    use serde_json::json;
    // Precise refusals, and nothing made.
    let (st, e) = post_link(s, "lv", json!({"expires_in": 0})).await?;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("invalid_request")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expires_in"),
        "{e}"
    );
    let (st, e) = post_link(s, "lv", json!({"expires_in": 86_401})).await?;
    assert_eq!(st, 422, "{e}");
    let (st, e) = post_link(s, "lv", json!({"readonly": true})).await?;
    assert_eq!(st, 422, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("readonly"),
        "{e}"
    );
    let (st, _) = post_link(s, "nope", json!({})).await?;
    assert_eq!(st, 404);

    let ro = make_link(s, "lv", json!({})).await?;
    let rw = make_link(s, "lv", json!({"expires_in": 600, "interactive": true})).await?;
    assert!(!ro.interactive && rw.interactive);
    assert!(
        ro.url == format!("{}/vms/lv/live?token={}", s.base, ro.token),
        "{ro:?}"
    );
    assert!(
        ro.token.starts_with("hlv_") && ro.token.len() == 68,
        "{ro:?}"
    );

    let seen = browser_with(
        "links",
        &s.base,
        "lv",
        None,
        &[("HYPE_LINK_RO", &ro.url), ("HYPE_LINK_RW", &rw.url)],
    )?;
    eprintln!("live links: {seen}");
    assert_eq!(seen["ro_cookies"], 0, "{seen}");
    assert_eq!(seen["ro_badge"], "view only", "{seen}");
    assert_eq!(seen["ro_canvas_changed"], true, "{seen}");
    assert_eq!(seen["ro_socket"]["access"], false, "{seen}");
    assert_eq!(
        seen["ro_socket"]["errors"],
        json!(["view_only", "view_only", "view_only"]),
        "{seen}"
    );
    assert_eq!(
        seen["title_after_ro"], "live test",
        "input reached the page: {seen}"
    );
    assert_eq!(seen["rw_badge"], 0, "{seen}");
    assert_eq!(seen["title_after_rw"], "clicked", "{seen}");

    // A link opens its VM's live view and nothing else.
    let other = format!(
        "{}/api/v1/vms/nope/live/ws?token={}",
        s.base.replacen("http://", "ws://", 1),
        ro.token
    );
    assert_eq!(upgrade_status(&other, &[]).await?, 401);
    for path in [
        "/api/v1/vms",
        "/api/v1/vms/lv",
        "/api/v1/vms/lv/cdp/json/version",
    ] {
        let r = reqwest::get(format!("{}{path}?token={}", s.base, rw.token)).await?;
        assert_eq!(r.status(), 401, "{path}");
        let e: Value = r.json().await?;
        assert_eq!(e["error"]["code"], "link_scope", "{path}: {e}");
    }
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/vms/lv/live-links?token={}",
            s.base, rw.token
        ))
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status(), 401, "a link makes no links");
    let forged = format!("{}/vms/lv/live?token=hlv_{}", s.base, "0".repeat(64));
    let r = reqwest::get(&forged).await?;
    assert_eq!(r.status(), 401);
    assert!(r.text().await?.contains("Live link not valid"));

    // A link ends at its expiry: page and socket get 401.
    let short = make_link(s, "lv", json!({"expires_in": 1})).await?;
    assert_eq!(reqwest::get(&short.url).await?.status(), 200);
    assert_eq!(upgrade_status(&link_ws(s, "lv", &short), &[]).await?, 101);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(upgrade_status(&link_ws(s, "lv", &short), &[]).await?, 401);
    let r = reqwest::get(&short.url).await?;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["content-type"]
        .to_str()?
        .starts_with("text/html"));
    // The tokens never reach hyped's log.
    let log = s.log()?;
    for t in [&ro.token, &rw.token, &short.token] {
        assert!(
            !log.contains(t.as_str()),
            "a live link's token is in hyped's log"
        );
    }
    Ok((ro, rw))
}

/// `hype_live_viewers` and `hype_live_frames_total` from `/metrics`.
async fn live_metrics(s: &Server) -> anyhow::Result<(f64, f64)> {
    let text = reqwest::get(format!("{}/metrics", s.base))
        .await?
        .text()
        .await?;
    let get = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no {name} in /metrics"))
    };
    Ok((get("hype_live_viewers")?, get("hype_live_frames_total")?))
}

/// With a viewer the screencast runs (frames are counted); when the last
/// viewer leaves it stops: no viewer, and no more frames, while the page
/// goes on changing.
pub(super) async fn screencast_stops_with_its_last_viewer(
    s: &Server,
    link: &Link,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let pause = || tokio::time::sleep(Duration::from_millis(200));
    // Every viewer of the tests before has left.
    let mut t = 0;
    while live_metrics(s).await?.0 != 0.0 {
        anyhow::ensure!(t < 50, "a viewer is still counted after the others left");
        pause().await;
        t += 1;
    }
    // An animation in the sandbox, so frames keep coming while watched.
    hype_cdp_eval(s, "lv", ANIMATE).await?;
    let (mut sock, _) = tokio_tungstenite::connect_async(link_ws(s, "lv", link)).await?;
    let (viewers, before) = live_metrics(s).await?;
    assert_eq!(viewers, 1.0);
    let mut got = 0;
    while got < 5 {
        match tokio::time::timeout(Duration::from_secs(60), sock.next()).await? {
            Some(Ok(m)) if m.is_binary() => got += 1,
            Some(Ok(_)) => {}
            other => anyhow::bail!("the live view ended: {other:?}"),
        }
    }
    assert!(live_metrics(s).await?.1 >= before + 5.0);
    drop(sock);
    let mut t = 0;
    while live_metrics(s).await?.0 != 0.0 {
        anyhow::ensure!(t < 50, "the screencast outlived its last viewer");
        pause().await;
        t += 1;
    }
    // Nothing is screencast any more, though the page still animates.
    let (_, stopped) = live_metrics(s).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        live_metrics(s).await?.1,
        stopped,
        "frames came with no viewer"
    );
    Ok(())
}

/// A page whose content changes every animation frame.
const ANIMATE: &str = "(() => { const d = document.createElement('div'); document.body.appendChild(d); \
    let n = 0; const f = () => { d.textContent = String(n++); d.style.marginLeft = (n % 300) + 'px'; requestAnimationFrame(f); }; f(); return true; })()";

/// Evaluates `expr` in the sandbox's first tab over hyped's CDP proxy.
async fn hype_cdp_eval(s: &Server, vm: &str, expr: &str) -> anyhow::Result<Value> {
    let cdp = format!("{}/api/v1/vms/{vm}/cdp", s.base);
    let mut page = crate::common::cdp::Cdp::first_page(&cdp).await?;
    page.call("Runtime.evaluate", serde_json::json!({"expression": expr}))
        .await
}
