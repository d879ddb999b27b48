//! The session with one `/sdk` endpoint: the HTTPS client, the session
//! cookie, the service content, login and logout.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::Url;

use super::envelope::{parse_answer, Answer, MoRef, Request};
use super::xml::Element;
use crate::VsphereError;

/// vCenter's session cookie, sent back verbatim (quotes included); disk
/// downloads from the same host need it too.
const SESSION_COOKIE: &str = "vmware_soap_session";

/// The managed objects this crate uses, from `RetrieveServiceContent`.
#[derive(Debug, Clone)]
pub struct ServiceContent {
    pub root_folder: MoRef,
    pub property_collector: MoRef,
    pub session_manager: MoRef,
    pub search_index: MoRef,
    pub view_manager: MoRef,
}

pub struct Client {
    http: reqwest::Client,
    url: Url,
    cookie: Mutex<Option<String>>,
    pub content: ServiceContent,
}

impl Client {
    /// Builds the HTTPS client (certificate checks unless `insecure`) and
    /// reads the service content, which needs no session.
    pub async fn connect(url: &Url, insecure: bool) -> Result<Client, VsphereError> {
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(insecure)
            .connect_timeout(Duration::from_secs(30))
            // No overall timeout: a disk download takes as long as it takes;
            // a stalled one is caught by the read timeout.
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| VsphereError::transport(url.as_str(), e))?;
        let mut client = Client {
            http,
            url: url.clone(),
            cookie: Mutex::new(None),
            content: ServiceContent {
                root_folder: MoRef::new("", ""),
                property_collector: MoRef::new("", ""),
                session_manager: MoRef::new("", ""),
                search_index: MoRef::new("", ""),
                view_manager: MoRef::new("", ""),
            },
        };
        let req = Request::new(
            "RetrieveServiceContent",
            &MoRef::new("ServiceInstance", "ServiceInstance"),
        );
        let res = client.call(&req).await?;
        let rv = returnval(&res, "RetrieveServiceContent")?;
        let get = |name: &str| {
            rv.child(name)
                .and_then(MoRef::from_element)
                .ok_or_else(|| VsphereError::Protocol {
                    operation: "RetrieveServiceContent".into(),
                    message: format!("no {name} in the service content"),
                })
        };
        client.content = ServiceContent {
            root_folder: get("rootFolder")?,
            property_collector: get("propertyCollector")?,
            session_manager: get("sessionManager")?,
            search_index: get("searchIndex")?,
            view_manager: get("viewManager")?,
        };
        Ok(client)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The session cookie for a request to `url`: only to the host that
    /// issued it, as a browser's cookie jar would.
    pub fn cookie_for(&self, url: &Url) -> Option<String> {
        if url.host_str() != self.url.host_str() {
            return None;
        }
        let cookie = self.cookie.lock().unwrap();
        cookie.as_deref().map(|c| format!("{SESSION_COOKIE}={c}"))
    }

    /// The password goes into the envelope only, never a log line.
    pub async fn login(&self, username: &str, password: &str) -> Result<(), VsphereError> {
        let mut req = Request::new("Login", &self.content.session_manager);
        req.text("userName", username).text("password", password);
        match self.call(&req).await {
            Err(VsphereError::Soap { fault, .. }) if fault.is("InvalidLogin") => {
                Err(VsphereError::LoginFailed {
                    username: username.to_string(),
                })
            }
            Err(e) => Err(e),
            Ok(_) if self.cookie.lock().unwrap().is_none() => Err(VsphereError::Protocol {
                operation: "Login".into(),
                message: "no session cookie in the answer".into(),
            }),
            Ok(_) => Ok(()),
        }
    }

    /// Ends the session; failures only matter to the log.
    pub async fn logout(&self) {
        let req = Request::new("Logout", &self.content.session_manager);
        if let Err(e) = self.call(&req).await {
            tracing::debug!(error = %e, "vSphere logout failed");
        }
    }

    /// Sends one request; a SOAP fault becomes `VsphereError::Soap`.
    pub async fn call(&self, req: &Request) -> Result<Element, VsphereError> {
        let operation = req.method().to_string();
        let mut http = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", "urn:vim25/6.5")
            .body(req.envelope());
        if let Some(c) = self.cookie.lock().unwrap().as_deref() {
            http = http.header(COOKIE, format!("{SESSION_COOKIE}={c}"));
        }
        let res = http
            .send()
            .await
            .map_err(|e| VsphereError::transport(self.url.as_str(), e))?;
        if let Some(c) = session_cookie(res.headers().get_all(SET_COOKIE)) {
            *self.cookie.lock().unwrap() = Some(c);
        }
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| VsphereError::transport(self.url.as_str(), e))?;
        match parse_answer(&body, &operation) {
            Ok(Answer::Response(el)) => Ok(el),
            Ok(Answer::Fault(fault)) => Err(VsphereError::Soap { operation, fault }),
            Err(message) => Err(VsphereError::Protocol {
                operation,
                message: format!("HTTP {status}: {message}"),
            }),
        }
    }
}

/// The `returnval` of a response, which every call used here has.
pub fn returnval<'a>(res: &'a Element, operation: &str) -> Result<&'a Element, VsphereError> {
    res.child("returnval")
        .ok_or_else(|| VsphereError::Protocol {
            operation: operation.to_string(),
            message: "no returnval".into(),
        })
}

fn session_cookie<'a>(headers: impl IntoIterator<Item = &'a HeaderValue>) -> Option<String> {
    headers.into_iter().find_map(|h| {
        let first = h.to_str().ok()?.split(';').next()?;
        let (name, value) = first.split_once('=')?;
        (name.trim() == SESSION_COOKIE).then(|| value.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_session_cookie() {
        let hs = [
            HeaderValue::from_static("other=1; Path=/"),
            HeaderValue::from_static("vmware_soap_session=\"52a1-b\"; Path=/; HttpOnly; Secure;"),
        ];
        assert_eq!(session_cookie(hs.iter()), Some("\"52a1-b\"".to_string()));
        assert_eq!(
            session_cookie([HeaderValue::from_static("x=y")].iter()),
            None
        );
    }
}
