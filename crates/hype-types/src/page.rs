//! Paged lists: `?limit=&after=`, and the `next` cursor an answer carries
//! when there may be more. A cursor is opaque to clients: they pass back
//! what they got.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Event, Job, Vm};

/// Items per page when a request names no limit.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;
/// The most items a page may hold.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// Which page of a list to answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageRequest {
    /// Items in the page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

impl PageRequest {
    /// The limit asked for, or why it cannot be served.
    pub fn limit(&self) -> Result<u32, String> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_LIMIT),
            Some(n @ 1..=MAX_PAGE_LIMIT) => Ok(n),
            Some(n) => Err(format!("limit {n} is out of range: 1 to {MAX_PAGE_LIMIT}")),
        }
    }
}

/// One page of VMs, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VmList {
    pub vms: Vec<Vm>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One page of jobs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<Job>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One page of lifecycle events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    pub events: Vec<Event>,
    /// Pass as `after` for the next page; absent when there is nothing
    /// newer yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_are_bounded() {
        let p = |limit| PageRequest { limit, after: None };
        assert_eq!(p(None).limit(), Ok(100));
        assert_eq!(p(Some(1)).limit(), Ok(1));
        assert_eq!(p(Some(1000)).limit(), Ok(1000));
        assert!(p(Some(0)).limit().is_err());
        assert!(p(Some(1001)).limit().is_err());
    }
}
