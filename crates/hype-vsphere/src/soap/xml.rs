//! A small element tree over quick-xml. SOAP answers are polymorphic
//! (`xsi:type` decides what a `val` holds), so walking a tree by local names
//! is simpler and sturdier than mapping every vSphere type onto serde.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One element: local name (namespace prefix dropped), attributes by local
/// name, children, and its own text (entities resolved).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn parse(input: &[u8]) -> Result<Element, String> {
        let mut reader = Reader::from_reader(input);
        let mut stack: Vec<Element> = Vec::new();
        let mut buf = Vec::new();
        loop {
            let event = reader
                .read_event_into(&mut buf)
                .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
            match event {
                Event::Start(start) => stack.push(open(&start)?),
                Event::Empty(start) => {
                    let el = open(&start)?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => return Ok(el),
                    }
                }
                Event::End(_) => {
                    let el = stack.pop().ok_or("unbalanced end tag")?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => return Ok(el),
                    }
                }
                Event::Text(t) => {
                    if let Some(cur) = stack.last_mut() {
                        cur.text.push_str(&t.unescape().map_err(|e| e.to_string())?);
                    }
                }
                Event::CData(t) => {
                    if let Some(cur) = stack.last_mut() {
                        cur.text.push_str(&String::from_utf8_lossy(&t));
                    }
                }
                Event::Eof => return Err("no root element".into()),
                _ => {}
            }
            buf.clear();
        }
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The descendant reached by following `path` from child to child.
    pub fn path(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |el, name| el.child(name))
    }

    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of attributes named `name` (namespaces dropped), in order.
    pub fn attrs_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attrs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `xsi:type` of the element, without its namespace prefix.
    pub fn xsi_type(&self) -> Option<&str> {
        self.attr("type").map(|t| t.rsplit(':').next().unwrap_or(t))
    }
}

fn open(start: &BytesStart<'_>) -> Result<Element, String> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned();
        let value = attr.unescape_value().map_err(|e| e.to_string())?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        ..Element::default()
    })
}

/// Escapes text and attribute values for the envelopes and the OVF.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_without_prefixes_attributes_and_entities() {
        let doc = br#"<?xml version="1.0"?>
<soapenv:Envelope xmlns:soapenv="x" xmlns:xsi="y"><soapenv:Body>
  <R xmlns="urn:vim25"><returnval type="Folder">group-d1</returnval>
  <val xsi:type="xsd:string">a &amp; b &lt;c&gt;</val><empty/></R>
</soapenv:Body></soapenv:Envelope>"#;
        let root = Element::parse(doc).unwrap();
        assert_eq!(root.name, "Envelope");
        let r = root.path(&["Body", "R"]).unwrap();
        let rv = r.child("returnval").unwrap();
        assert_eq!(rv.attr("type"), Some("Folder"));
        assert_eq!(rv.text, "group-d1");
        let val = r.child("val").unwrap();
        assert_eq!(val.xsi_type(), Some("string"));
        assert_eq!(val.text, "a & b <c>");
        assert!(r.child("empty").unwrap().children.is_empty());
        assert_eq!(r.children("returnval").count(), 1);
        assert!(r.path(&["val", "nothing"]).is_none());
    }

    #[test]
    fn rejects_broken_documents() {
        assert!(Element::parse(b"").is_err());
        assert!(Element::parse(b"<a><b></a>").is_err());
        assert!(Element::parse(b"not xml at all").is_err());
    }

    #[test]
    fn escape_round_trips_through_parse() {
        let text = r#"p<a>s"s&'x"#;
        let doc = format!("<a v=\"{}\">{}</a>", escape(text), escape(text));
        let el = Element::parse(doc.as_bytes()).unwrap();
        assert_eq!(el.text, text);
        assert_eq!(el.attr("v"), Some(text));
    }
}
