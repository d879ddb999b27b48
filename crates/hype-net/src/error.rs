use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot open a netlink socket")]
    Connect(#[source] std::io::Error),
    #[error("netlink: cannot {op} {link}")]
    Netlink {
        op: &'static str,
        link: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("no link named {0}")]
    NoLink(String),
    #[error("{0:?} is not a MAC address (aa:bb:cc:dd:ee:ff)")]
    BadMac(String),
    #[error("tap {tap}: {op}")]
    Tap {
        tap: String,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("nft: cannot run it")]
    NftSpawn(#[source] std::io::Error),
    #[error("nft refused the ruleset: {0}")]
    Nft(String),
    #[error("subnet {subnet} is too small: hype needs a gateway and at least one guest address")]
    SubnetTooSmall { subnet: String },
    #[error("{addr} is not in {subnet}")]
    Outside { addr: Ipv4Addr, subnet: String },
}
