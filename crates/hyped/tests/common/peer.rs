//! A second network namespace behind a veth pair, standing for the world
//! beyond the host: `10.N.0.1` on the test's side, `10.N.0.2` in the
//! namespace, and a server there if the test wants one. A sandbox reaches
//! it through hyped's bridge and NAT as it would a site on the internet,
//! while no packet leaves the test's namespaces. The namespace, the veth
//! pair with it, and the server go on drop.

use std::ffi::OsStr;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::sh;

pub struct Peer {
    ns: String,
    net: u8,
    server: Option<Child>,
}

impl Peer {
    /// The namespace `hype-TAG-PID` behind the veth pair `TAG0` (here) and
    /// `TAG1` (there), on `10.NET.0.0/24`.
    pub fn new(tag: &str, net: u8) -> anyhow::Result<Self> {
        let ns = format!("hype-{tag}-{}", std::process::id());
        sh(&["ip", "netns", "add", &ns])?;
        // From here on, drop removes what was made.
        let me = Self {
            ns: ns.clone(),
            net,
            server: None,
        };
        let (here, there) = (format!("{tag}0"), format!("{tag}1"));
        sh(&[
            "ip", "link", "add", &here, "type", "veth", "peer", "name", &there,
        ])?;
        sh(&["ip", "link", "set", &there, "netns", &ns])?;
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("10.{net}.0.1/24"),
            "dev",
            &here,
        ])?;
        sh(&["ip", "link", "set", &here, "up"])?;
        let addr = format!("{}/24", me.addr());
        sh(&["ip", "-n", &ns, "addr", "add", &addr, "dev", &there])?;
        sh(&["ip", "-n", &ns, "link", "set", &there, "up"])?;
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
        Ok(me)
    }

    /// The namespace's address, `10.NET.0.2`.
    pub fn addr(&self) -> String {
        format!("10.{}.0.2", self.net)
    }

    /// Runs `program args` in the namespace as its server, and waits
    /// until it accepts connections on `port`.
    pub fn serve<S: AsRef<OsStr>>(
        mut self,
        program: impl AsRef<OsStr>,
        args: &[S],
        port: u16,
    ) -> anyhow::Result<Self> {
        let server = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.server = Some(server);
        let at = format!("{}:{port}", self.addr());
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&at).is_err() {
            anyhow::ensure!(Instant::now() < until, "nothing listens on {at}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(self)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = sh(&["ip", "netns", "del", &self.ns]);
    }
}
