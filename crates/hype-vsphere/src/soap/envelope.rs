//! Request envelopes (a tiny writer) and answers: the method's response
//! element or the SOAP fault the server sent instead.

use std::fmt;

use super::xml::{escape, Element};

/// A managed object reference: `<x type="VirtualMachine">vm-42</x>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MoRef {
    pub kind: String,
    pub value: String,
}

impl MoRef {
    pub fn new(kind: &str, value: &str) -> Self {
        Self {
            kind: kind.to_string(),
            value: value.to_string(),
        }
    }

    /// Reads a reference; the type may be an attribute or, inside a
    /// `val xsi:type="ManagedObjectReference"`, also `type`.
    pub fn from_element(el: &Element) -> Option<Self> {
        // Namespaces are dropped, so a property's `val` has two `type`s: the
        // xsi one (`ManagedObjectReference`) and the reference's own.
        let kind = el
            .attrs_named("type")
            .filter(|t| t.rsplit(':').next() != Some("ManagedObjectReference"))
            .last()?;
        let value = el.text.trim();
        (!value.is_empty() && !kind.is_empty()).then(|| Self::new(kind, value))
    }
}

impl fmt::Display for MoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// A SOAP fault: the vSphere fault type (from the detail) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: Option<String>,
    pub message: String,
}

impl Fault {
    fn from_element(fault: &Element) -> Self {
        let detail = fault.child("detail").and_then(|d| d.children.first());
        let kind = detail.map(|d| {
            d.xsi_type()
                .map(str::to_string)
                .unwrap_or_else(|| d.name.trim_end_matches("Fault").to_string())
        });
        Self {
            kind,
            message: fault.child_text("faultstring").unwrap_or("").to_string(),
        }
    }

    pub fn is(&self, kind: &str) -> bool {
        self.kind.as_deref() == Some(kind)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, self.message.is_empty()) {
            (Some(k), false) => write!(f, "{k}: {}", self.message),
            (Some(k), true) => f.write_str(k),
            (None, _) => f.write_str(&self.message),
        }
    }
}

/// Builds one request. Values are escaped; element names are ours.
pub struct Request {
    method: String,
    body: String,
}

impl Request {
    pub fn new(method: &str, this: &MoRef) -> Self {
        let mut r = Self {
            method: method.to_string(),
            body: String::new(),
        };
        r.moref("_this", this);
        r
    }

    pub fn method(&self) -> &str {
        &self.method
    }

    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.body
            .push_str(&format!("<{name}>{}</{name}>", escape(value)));
        self
    }

    pub fn moref(&mut self, name: &str, r: &MoRef) -> &mut Self {
        self.body.push_str(&format!(
            "<{name} type=\"{}\">{}</{name}>",
            escape(&r.kind),
            escape(&r.value)
        ));
        self
    }

    /// Opens a complex element, with its `xsi:type` when the schema's type
    /// is abstract (a `selectSet` holding a TraversalSpec, for instance).
    pub fn open(&mut self, name: &str, xsi_type: Option<&str>) -> &mut Self {
        match xsi_type {
            Some(t) => self
                .body
                .push_str(&format!("<{name} xsi:type=\"{}\">", escape(t))),
            None => self.body.push_str(&format!("<{name}>")),
        }
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.body.push_str(&format!("</{name}>"));
        self
    }

    pub fn envelope(&self) -> String {
        format!(
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" "#,
                r#"xmlns:xsd="http://www.w3.org/2001/XMLSchema" "#,
                r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
                r#"<soapenv:Body><{m} xmlns="urn:vim25">{b}</{m}></soapenv:Body></soapenv:Envelope>"#
            ),
            m = self.method,
            b = self.body
        )
    }
}

/// What came back for a call: its `...Response` element, or a fault.
#[derive(Debug)]
pub enum Answer {
    Response(Element),
    Fault(Fault),
}

pub fn parse_answer(body: &[u8], method: &str) -> Result<Answer, String> {
    let root = Element::parse(body)?;
    if root.name != "Envelope" {
        return Err(format!("expected a SOAP envelope, got <{}>", root.name));
    }
    let body = root.child("Body").ok_or("the envelope has no Body")?;
    if let Some(fault) = body.child("Fault") {
        return Ok(Answer::Fault(Fault::from_element(fault)));
    }
    let want = format!("{method}Response");
    body.child(&want)
        .cloned()
        .map(Answer::Response)
        .ok_or_else(|| format!("the Body has no <{want}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_envelope_escapes_values_and_parses_back() {
        let mut r = Request::new("Login", &MoRef::new("SessionManager", "SessionManager"));
        r.text("userName", "admin@vsphere.local")
            .text("password", "p<&>\"'w");
        let env = r.envelope();
        let root = Element::parse(env.as_bytes()).unwrap();
        let login = root.path(&["Body", "Login"]).unwrap();
        assert_eq!(
            login.child("_this").unwrap().attr("type"),
            Some("SessionManager")
        );
        assert_eq!(login.child_text("password"), Some("p<&>\"'w"));
        assert_eq!(r.method(), "Login");
    }

    #[test]
    fn nested_typed_elements() {
        let mut r = Request::new(
            "RetrievePropertiesEx",
            &MoRef::new("PropertyCollector", "pc"),
        );
        r.open("specSet", None)
            .open("selectSet", Some("TraversalSpec"))
            .text("path", "view")
            .close("selectSet")
            .close("specSet");
        let root = Element::parse(r.envelope().as_bytes()).unwrap();
        let sel = root
            .path(&["Body", "RetrievePropertiesEx", "specSet", "selectSet"])
            .unwrap();
        assert_eq!(sel.xsi_type(), Some("TraversalSpec"));
        assert_eq!(sel.child_text("path"), Some("view"));
    }

    #[test]
    fn answers_are_responses_or_faults() {
        let ok = br#"<soapenv:Envelope xmlns:soapenv="s"><soapenv:Body><LoginResponse xmlns="urn:vim25"><returnval><key>k</key></returnval></LoginResponse></soapenv:Body></soapenv:Envelope>"#;
        match parse_answer(ok, "Login").unwrap() {
            Answer::Response(r) => assert_eq!(r.path(&["returnval", "key"]).unwrap().text, "k"),
            Answer::Fault(f) => panic!("unexpected fault {f}"),
        }
        let fault = br#"<soapenv:Envelope xmlns:soapenv="s" xmlns:xsi="i"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Login failure</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        match parse_answer(fault, "Login").unwrap() {
            Answer::Fault(f) => {
                assert!(f.is("InvalidLogin"));
                assert_eq!(f.to_string(), "InvalidLogin: Login failure");
            }
            Answer::Response(_) => panic!("fault taken for a response"),
        }
        // Without xsi:type the element name tells the type.
        let bare = br#"<Envelope><Body><Fault><faultstring>x</faultstring><detail><NotAuthenticatedFault/></detail></Fault></Body></Envelope>"#;
        match parse_answer(bare, "X").unwrap() {
            Answer::Fault(f) => assert!(f.is("NotAuthenticated")),
            Answer::Response(_) => panic!(),
        }
        assert!(parse_answer(ok, "Logout").is_err());
        assert!(parse_answer(b"<html/>", "Login").is_err());
    }

    #[test]
    fn morefs_need_type_and_value() {
        let el = Element::parse(br#"<obj type="VirtualMachine"> vm-7 </obj>"#).unwrap();
        assert_eq!(
            MoRef::from_element(&el),
            Some(MoRef::new("VirtualMachine", "vm-7"))
        );
        let el = Element::parse(b"<obj>vm-7</obj>").unwrap();
        assert_eq!(MoRef::from_element(&el), None);
        // A property value carries the xsi type beside the reference's.
        let el = Element::parse(
            br#"<val xmlns:x="i" x:type="ManagedObjectReference" type="Folder">group-d1</val>"#,
        )
        .unwrap();
        assert_eq!(
            MoRef::from_element(&el),
            Some(MoRef::new("Folder", "group-d1"))
        );
    }
}
