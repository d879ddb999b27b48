//! What an import source holds: its VMs and templates, read on request so
//! an operator can choose before submitting a job. The password follows
//! the rules of jobs (the request's own, else hyped's environment password
//! for listed https hosts only) and lives only for the call.

use hype_types::{Inventory, InventoryRequest, SourceKind};

use crate::jobs::Refusal;
use crate::{CoreError, Hype, Result};

/// Why listing a source failed, as its client crate says.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Vsphere(#[from] hype_vsphere::VsphereError),
    #[error(transparent)]
    Xcpng(#[from] hype_xcpng::XcpngError),
}

impl SourceError {
    /// The code clients match on: what the operator can fix (credentials,
    /// certificate, URL) apart from a source that failed them.
    pub fn code(&self) -> &'static str {
        use hype_vsphere::VsphereError as V;
        use hype_xcpng::XcpngError as X;
        match self {
            SourceError::Vsphere(V::LoginFailed { .. }) | SourceError::Xcpng(X::Auth { .. }) => {
                "source_login_failed"
            }
            SourceError::Vsphere(V::Certificate { .. }) => "source_certificate",
            SourceError::Vsphere(V::InvalidSpec { .. }) => "invalid_url",
            SourceError::Vsphere(V::Connect { .. }) | SourceError::Xcpng(X::Connect { .. }) => {
                "source_unreachable"
            }
            SourceError::Vsphere(_) | SourceError::Xcpng(_) => "source_error",
        }
    }

    /// Whether the request, not the source, is at fault (422, not 502).
    pub fn is_caller_error(&self) -> bool {
        matches!(
            self.code(),
            "source_login_failed" | "source_certificate" | "invalid_url"
        )
    }
}

impl Hype {
    /// Lists the VMs and templates of a vSphere or XCP-ng source.
    pub async fn source_inventory(&self, req: InventoryRequest) -> Result<Inventory> {
        req.validate().map_err(CoreError::InvalidJob)?;
        let password = match &req.password {
            Some(p) => p.clone(),
            None => self
                .env_password_for(req.kind.job_kind(), &req.url)
                .map_err(|e| match e {
                    Refusal::Missing(e) => CoreError::InvalidJob(e),
                    Refusal::Refused(e) => CoreError::ImportRefused(e),
                })?,
        };
        let fail = |source: SourceError| CoreError::Source {
            url: req.url.clone(),
            source,
        };
        let vms = match req.kind {
            SourceKind::Vsphere => {
                hype_vsphere::list_vms(&req.url, &req.username, &password, req.insecure)
                    .await
                    .map_err(|e| fail(e.into()))?
            }
            SourceKind::Xcpng => {
                hype_xcpng::list_vms(&req.url, &req.username, &password, req.insecure)
                    .await
                    .map_err(|e| fail(e.into()))?
            }
        };
        Ok(Inventory {
            kind: req.kind,
            url: req.url,
            vms,
        })
    }
}
