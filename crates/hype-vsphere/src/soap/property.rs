//! The PropertyCollector: `RetrievePropertiesEx` and, for long answers,
//! `ContinueRetrievePropertiesEx` until the token runs out.

use super::client::Client;
use super::envelope::{MoRef, Request};
use super::xml::Element;
use crate::VsphereError;

/// One object of an answer with the properties that came back.
#[derive(Debug, Clone)]
pub struct ObjectContent {
    pub obj: MoRef,
    pub props: Vec<(String, Element)>,
}

impl ObjectContent {
    /// The `val` of property `path`, if the server had one.
    pub fn get(&self, path: &str) -> Option<&Element> {
        self.props.iter().find(|(n, _)| n == path).map(|(_, v)| v)
    }

    pub fn text(&self, path: &str) -> Option<&str> {
        self.get(path).map(|v| v.text.trim())
    }
}

/// Where a retrieval starts: one object, or every object of a view.
pub enum Start<'a> {
    Object(&'a MoRef),
    View(&'a MoRef),
}

/// Reads `paths` of objects of type `kind` reached from `start`.
pub async fn retrieve(
    client: &Client,
    kind: &str,
    start: Start<'_>,
    paths: &[&str],
) -> Result<Vec<ObjectContent>, VsphereError> {
    let pc = &client.content.property_collector;
    let mut req = Request::new("RetrievePropertiesEx", pc);
    req.open("specSet", None)
        .open("propSet", None)
        .text("type", kind);
    for p in paths {
        req.text("pathSet", p);
    }
    req.close("propSet").open("objectSet", None);
    match start {
        Start::Object(obj) => {
            req.moref("obj", obj).text("skip", "false");
        }
        Start::View(view) => {
            req.moref("obj", view)
                .text("skip", "true")
                .open("selectSet", Some("TraversalSpec"))
                .text("name", "traverseView")
                .text("type", "ContainerView")
                .text("path", "view")
                .text("skip", "false")
                .close("selectSet");
        }
    }
    req.close("objectSet")
        .close("specSet")
        .open("options", None)
        .text("maxObjects", "500")
        .close("options");

    let mut out = Vec::new();
    let res = client.call(&req).await?;
    let mut token = collect(&res, &mut out)?;
    while let Some(t) = token {
        let mut more = Request::new("ContinueRetrievePropertiesEx", pc);
        more.text("token", &t);
        let res = client.call(&more).await?;
        token = collect(&res, &mut out)?;
    }
    Ok(out)
}

/// Reads `paths` of one object; a missing object is `None`.
pub async fn object(
    client: &Client,
    obj: &MoRef,
    paths: &[&str],
) -> Result<Option<ObjectContent>, VsphereError> {
    let found = retrieve(client, &obj.kind, Start::Object(obj), paths).await;
    match found {
        Ok(mut objs) => Ok(objs.pop()),
        Err(VsphereError::Soap { fault, .. }) if fault.is("ManagedObjectNotFound") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Adds the objects of one answer to `out`; returns the continuation token.
/// An empty answer has no `returnval` at all.
fn collect(res: &Element, out: &mut Vec<ObjectContent>) -> Result<Option<String>, VsphereError> {
    let Some(rv) = res.child("returnval") else {
        return Ok(None);
    };
    for o in rv.children("objects") {
        let obj = o
            .child("obj")
            .and_then(MoRef::from_element)
            .ok_or_else(|| VsphereError::Protocol {
                operation: "RetrievePropertiesEx".into(),
                message: "an object without obj".into(),
            })?;
        let props = o
            .children("propSet")
            .filter_map(|p| Some((p.child_text("name")?.to_string(), p.child("val")?.clone())))
            .collect();
        out.push(ObjectContent { obj, props });
    }
    Ok(rv
        .child_text("token")
        .filter(|t| !t.is_empty())
        .map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_objects_properties_and_token() {
        let res = Element::parse(
            br#"<RetrievePropertiesExResponse xmlns:xsi="i"><returnval><token>t1</token>
<objects><obj type="VirtualMachine">vm-1</obj><propSet><name>name</name><val xsi:type="xsd:string">web01</val></propSet></objects>
<objects><obj type="VirtualMachine">vm-2</obj><propSet><name>name</name><val>db</val></propSet><propSet><name>runtime.powerState</name><val>poweredOff</val></propSet></objects>
</returnval></RetrievePropertiesExResponse>"#,
        )
        .unwrap();
        let mut out = Vec::new();
        assert_eq!(collect(&res, &mut out).unwrap(), Some("t1".into()));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].obj, MoRef::new("VirtualMachine", "vm-1"));
        assert_eq!(out[0].text("name"), Some("web01"));
        assert_eq!(out[1].text("runtime.powerState"), Some("poweredOff"));
        assert!(out[1].get("config").is_none());
    }

    #[test]
    fn empty_answer_has_no_objects_and_no_token() {
        let res = Element::parse(b"<RetrievePropertiesExResponse/>").unwrap();
        let mut out = Vec::new();
        assert_eq!(collect(&res, &mut out).unwrap(), None);
        assert!(out.is_empty());
    }

    #[test]
    fn object_without_reference_is_a_protocol_error() {
        let res =
            Element::parse(b"<R><returnval><objects><propSet/></objects></returnval></R>").unwrap();
        assert!(matches!(
            collect(&res, &mut Vec::new()),
            Err(VsphereError::Protocol { .. })
        ));
    }
}
