//! `GET /metrics` in the Prometheus text format: request counts by route
//! and status, and VMs by state (read from the store at scrape time).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Default)]
pub struct Metrics {
    pub requests: Family<RequestLabels, Counter>,
}
