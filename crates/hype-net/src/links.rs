//! The bridge and the taps, through rtnetlink.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{
    InfoBridgePort, InfoPortData, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_route::neighbour::NeighbourState;
use rtnetlink::{Handle, LinkBridge, LinkBridgePort, LinkUnspec};

use crate::{addr, tap, NetError, Result};

/// A netlink handle bound to one bridge and subnet. Everything it does is
/// idempotent: creating what exists, or deleting what is gone, succeeds.
#[derive(Clone)]
pub struct Net {
    handle: Handle,
    bridge: String,
    subnet: Ipv4Net,
    /// The kernel runs one dump at a time per netlink socket and answers a
    /// second with EBUSY: concurrent creates must take turns to list.
    dump: Arc<tokio::sync::Mutex<()>>,
}

fn nl(op: &'static str, link: &str) -> impl FnOnce(rtnetlink::Error) -> NetError {
    let link = link.to_owned();
    move |source| NetError::Netlink { op, link, source }
}

fn name_of(m: &LinkMessage) -> Option<&str> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

fn controller_of(m: &LinkMessage) -> Option<u32> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Controller(i) => Some(*i),
        _ => None,
    })
}

impl Net {
    /// Opens a netlink socket in the calling thread's network namespace;
    /// its connection task runs on the current tokio runtime.
    pub fn connect(bridge: &str, subnet: Ipv4Net) -> Result<Self> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(NetError::Connect)?;
        tokio::spawn(conn);
        if addr::gateway(subnet).is_none() || addr::usable_hosts(subnet).next().is_none() {
            return Err(NetError::SubnetTooSmall {
                subnet: subnet.to_string(),
            });
        }
        Ok(Self {
            handle,
            bridge: bridge.to_owned(),
            subnet,
            dump: Arc::default(),
        })
    }

    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    async fn links(&self) -> Result<Vec<LinkMessage>> {
        let _turn = self.dump.lock().await;
        self.handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(nl("list links", "*"))
    }

    async fn index_of(&self, name: &str) -> Result<Option<u32>> {
        Ok(self
            .links()
            .await?
            .iter()
            .find(|m| name_of(m) == Some(name))
            .map(|m| m.header.index))
    }

    /// Creates the bridge if needed, gives it the subnet's first address and
    /// brings it up. Returns its index.
    pub async fn ensure_bridge(&self) -> Result<u32> {
        let br = &self.bridge;
        let index = match self.index_of(br).await? {
            Some(i) => i,
            None => {
                self.handle
                    .link()
                    .add(LinkBridge::new(br).build())
                    .execute()
                    .await
                    .map_err(nl("create bridge", br))?;
                self.index_of(br)
                    .await?
                    .ok_or_else(|| NetError::NoLink(br.clone()))?
            }
        };
        let gw = addr::gateway(self.subnet).expect("checked in connect");
        if !self.has_address(index, gw).await? {
            self.handle
                .address()
                .add(index, IpAddr::V4(gw), self.subnet.prefix_len())
                .execute()
                .await
                .map_err(nl("add the gateway address to", br))?;
        }
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(nl("bring up", br))?;
        Ok(index)
    }

    /// Whether the bridge exists.
    pub async fn has_bridge(&self) -> Result<bool> {
        Ok(self.index_of(&self.bridge).await?.is_some())
    }

    /// Whether the bridge exists, is up and holds the gateway address: what
    /// [`Net::ensure_bridge`] would leave unchanged.
    pub async fn bridge_ready(&self) -> Result<bool> {
        let links = self.links().await?;
        let Some(m) = links
            .iter()
            .find(|m| name_of(m) == Some(self.bridge.as_str()))
        else {
            return Ok(false);
        };
        let gw = addr::gateway(self.subnet).expect("checked in connect");
        Ok(m.header.flags.contains(LinkFlags::Up) && self.has_address(m.header.index, gw).await?)
    }

    /// Deletes the bridge (for `hype setup --undo`); one that is already
    /// gone is fine.
    pub async fn delete_bridge(&self) -> Result<()> {
        self.delete_link(&self.bridge).await
    }

    /// Deletes the link `name`; one that is already gone is fine.
    async fn delete_link(&self, name: &str) -> Result<()> {
        let Some(index) = self.index_of(name).await? else {
            return Ok(());
        };
        self.handle
            .link()
            .del(index)
            .execute()
            .await
            .map_err(nl("delete", name))
    }

    async fn has_address(&self, index: u32, want: Ipv4Addr) -> Result<bool> {
        let _turn = self.dump.lock().await;
        let addrs: Vec<_> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(nl("list addresses of", &self.bridge))?;
        Ok(addrs.iter().any(|m| {
            m.attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Address(IpAddr::V4(v)) if *v == want))
        }))
    }

    /// Creates the VM's tap, attaches it to the bridge with port isolation
    /// (guests reach the host and the uplink, never each other) and brings
    /// it up.
    pub async fn create_tap(&self, name: &str) -> Result<()> {
        let bridge = self.ensure_bridge().await?;
        tap::create_persistent(name)?;
        let index = self
            .index_of(name)
            .await?
            .ok_or_else(|| NetError::NoLink(name.into()))?;
        let attached = async {
            self.handle
                .link()
                .set(
                    LinkUnspec::new_with_index(index)
                        .controller(bridge)
                        .up()
                        .build(),
                )
                .execute()
                .await
                .map_err(nl("attach to the bridge", name))?;
            self.handle
                .link()
                .set_port(
                    LinkBridgePort::new(index)
                        .append_info_data(InfoBridgePort::Isolated(true))
                        .build(),
                )
                .execute()
                .await
                .map_err(nl("isolate the bridge port", name))
        };
        if let Err(e) = attached.await {
            // Leave nothing half-made.
            let _ = self.delete_tap(name).await;
            return Err(e);
        }
        Ok(())
    }

    /// Tells the host's neighbour table, for good, that `ip` is at `mac`
    /// behind the bridge (a lease's address and MAC do not change while it
    /// lasts). A VM given an address an earlier VM had is then reachable at
    /// once: with a learned entry the host went on sending to the earlier
    /// VM's MAC until the entry went stale (a fork's first CDP call waited
    /// a second or more), and no guest can claim another's address in the
    /// host's eyes.
    pub async fn pin_neighbour(&self, ip: Ipv4Addr, mac: &str) -> Result<()> {
        let lladdr = parse_mac(mac).ok_or_else(|| NetError::BadMac(mac.to_owned()))?;
        let bridge = self.ensure_bridge().await?;
        self.handle
            .neighbours()
            .add(bridge, IpAddr::V4(ip))
            .link_layer_address(&lladdr)
            .state(NeighbourState::Permanent)
            .replace()
            .execute()
            .await
            .map_err(nl("pin the neighbour entry of", &ip.to_string()))
    }

    /// Removes `ip`'s entry from the host's neighbour table (its lease
    /// ended); one that is not there is fine.
    pub async fn unpin_neighbour(&self, ip: Ipv4Addr) -> Result<()> {
        let Some(bridge) = self.index_of(&self.bridge).await? else {
            return Ok(());
        };
        let mut add = self.handle.neighbours().add(bridge, IpAddr::V4(ip));
        let message = add.message_mut().clone();
        match self.handle.neighbours().del(message).execute().await {
            Ok(()) => Ok(()),
            // ENOENT: nothing to remove.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENOENT => Ok(()),
            Err(e) => Err(nl("unpin the neighbour entry of", &ip.to_string())(e)),
        }
    }

    /// Deletes the tap; a tap that is already gone is fine.
    pub async fn delete_tap(&self, name: &str) -> Result<()> {
        self.delete_link(name).await
    }

    /// hype's taps on this bridge (for reconcile).
    pub async fn taps(&self) -> Result<Vec<String>> {
        let links = self.links().await?;
        let Some(bridge) = links
            .iter()
            .find(|m| name_of(m) == Some(self.bridge.as_str()))
            .map(|m| m.header.index)
        else {
            return Ok(vec![]);
        };
        Ok(links
            .iter()
            .filter(|m| controller_of(m) == Some(bridge))
            .filter_map(name_of)
            .filter(|n| n.starts_with("hype"))
            .map(str::to_owned)
            .collect())
    }

    /// Whether `name` is a port of the bridge with isolation on.
    pub async fn is_isolated_port(&self, name: &str) -> Result<bool> {
        let links = self.links().await?;
        let Some(m) = links.iter().find(|m| name_of(m) == Some(name)) else {
            return Err(NetError::NoLink(name.into()));
        };
        Ok(m.attributes.iter().any(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| match i {
                LinkInfo::PortData(InfoPortData::BridgePort(ps)) => ps
                    .iter()
                    .any(|p| matches!(p, InfoBridgePort::Isolated(true))),
                _ => false,
            }),
            _ => false,
        }))
    }
}

/// `aa:bb:cc:dd:ee:ff` as six bytes.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let bytes: Vec<u8> = s
        .split(':')
        .map(|p| {
            (p.len() == 2)
                .then(|| u8::from_str_radix(p, 16).ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}
