//! `ova.xml`: one XML-RPC value (struct of `version` and `objects`), read
//! with a small parser that knows just XML-RPC's value grammar. From it come
//! the VM's disks (VBDs of type `Disk`, their VDI's `Ref:N` and size) and
//! its firmware.

use serde_json::{Map, Value};

use crate::{Firmware, XcpngError};

fn bad(why: impl Into<String>) -> XcpngError {
    XcpngError::BadXva {
        why: format!("ova.xml: {}", why.into()),
    }
}

enum Tok<'a> {
    Open(&'a str),
    Close(&'a str),
    Empty(&'a str),
    Text(&'a str),
}

struct Lexer<'a> {
    s: &'a str,
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Result<Option<Tok<'a>>, XcpngError> {
        loop {
            if self.s.is_empty() {
                return Ok(None);
            }
            if let Some(rest) = self.s.strip_prefix('<') {
                let end = rest.find('>').ok_or_else(|| bad("unterminated tag"))?;
                let tag = &rest[..end];
                self.s = &rest[end + 1..];
                if tag.starts_with('?') || tag.starts_with('!') {
                    continue;
                }
                let name = |t: &'a str| t.split_whitespace().next().unwrap_or("");
                return Ok(Some(if let Some(t) = tag.strip_prefix('/') {
                    Tok::Close(name(t))
                } else if let Some(t) = tag.strip_suffix('/') {
                    Tok::Empty(name(t))
                } else {
                    Tok::Open(name(tag))
                }));
            }
            let end = self.s.find('<').unwrap_or(self.s.len());
            let text = &self.s[..end];
            self.s = &self.s[end..];
            return Ok(Some(Tok::Text(text)));
        }
    }

    /// The next tag, skipping whitespace between tags.
    fn tag(&mut self) -> Result<Tok<'a>, XcpngError> {
        loop {
            match self.next()? {
                Some(Tok::Text(t)) if t.trim().is_empty() => continue,
                Some(t) => return Ok(t),
                None => return Err(bad("ends too early")),
            }
        }
    }

    fn expect_close(&mut self, name: &str) -> Result<(), XcpngError> {
        match self.tag()? {
            Tok::Close(n) if n == name => Ok(()),
            _ => Err(bad(format!("expected </{name}>"))),
        }
    }

    /// Text up to `</name>` (possibly none).
    fn text_until(&mut self, name: &str) -> Result<String, XcpngError> {
        match self.next()? {
            Some(Tok::Text(t)) => {
                let t = unescape(t);
                self.expect_close(name)?;
                Ok(t)
            }
            Some(Tok::Close(n)) if n == name => Ok(String::new()),
            _ => Err(bad(format!("expected text in <{name}>"))),
        }
    }

    /// Parses the inside of a `<value>` (its opening tag already read).
    fn value(&mut self) -> Result<Value, XcpngError> {
        let v = match self.next()? {
            Some(Tok::Text(t)) if !t.trim().is_empty() => {
                let v = Value::String(unescape(t));
                self.expect_close("value")?;
                return Ok(v);
            }
            Some(Tok::Text(_)) => match self.tag()? {
                Tok::Close("value") => return Ok(Value::String(String::new())),
                t => self.typed(t)?,
            },
            Some(Tok::Close("value")) => return Ok(Value::String(String::new())),
            Some(t) => self.typed(t)?,
            None => return Err(bad("ends inside a value")),
        };
        self.expect_close("value")?;
        Ok(v)
    }

    fn typed(&mut self, t: Tok<'a>) -> Result<Value, XcpngError> {
        match t {
            Tok::Empty("nil") => Ok(Value::Null),
            Tok::Empty(_) => Ok(Value::String(String::new())),
            Tok::Open("struct") => {
                let mut m = Map::new();
                loop {
                    match self.tag()? {
                        Tok::Close("struct") => return Ok(Value::Object(m)),
                        Tok::Open("member") => {
                            let Tok::Open("name") = self.tag()? else {
                                return Err(bad("member without name"));
                            };
                            let k = self.text_until("name")?;
                            let Tok::Open("value") = self.tag()? else {
                                return Err(bad("member without value"));
                            };
                            let v = self.value()?;
                            self.expect_close("member")?;
                            m.insert(k, v);
                        }
                        _ => return Err(bad("unexpected tag in struct")),
                    }
                }
            }
            Tok::Open("array") => {
                let mut items = vec![];
                match self.tag()? {
                    Tok::Open("data") => loop {
                        match self.tag()? {
                            Tok::Close("data") => break,
                            Tok::Open("value") => items.push(self.value()?),
                            Tok::Empty("value") => items.push(Value::String(String::new())),
                            _ => return Err(bad("unexpected tag in array")),
                        }
                    },
                    Tok::Empty("data") => {}
                    _ => return Err(bad("array without data")),
                }
                self.expect_close("array")?;
                Ok(Value::Array(items))
            }
            Tok::Open(scalar) => {
                let name = scalar.to_owned();
                Ok(Value::String(self.text_until(&name)?))
            }
            _ => Err(bad("unexpected token")),
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

pub(crate) fn parse(xml: &str) -> Result<Value, XcpngError> {
    let mut lx = Lexer { s: xml };
    loop {
        match lx.next()? {
            Some(Tok::Open("value")) => return lx.value(),
            Some(_) => continue,
            None => return Err(bad("no value")),
        }
    }
}

/// A disk of the exported VM as ova.xml declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeclaredDisk {
    /// `Ref:N`, also the chunk directory's name.
    pub vdi: String,
    pub virtual_size: u64,
    pub userdevice: u64,
}

/// What ova.xml says of the exported VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared {
    /// Boot disk (lowest userdevice) first.
    pub disks: Vec<DeclaredDisk>,
    pub firmware: Firmware,
    pub shape: crate::Shape,
}

pub(crate) fn declared(xml: &str) -> Result<Declared, XcpngError> {
    let root = parse(xml)?;
    let objects = root
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no objects"))?;
    // An XVA holds one VM (snapshots of it are not exported with it). An
    // ova.xml without one says nothing of firmware either: BIOS, as for a
    // VM record without the key.
    let vm = objects
        .iter()
        .find(|o| o.get("class").and_then(Value::as_str) == Some("VM"))
        .and_then(|o| o.get("snapshot"));
    let firmware = match vm {
        Some(vm) => crate::vm_firmware(vm).map_err(bad)?,
        None => Firmware::Bios,
    };
    Ok(Declared {
        disks: disks(objects)?,
        firmware,
        shape: vm.map(crate::vm_shape).unwrap_or_default(),
    })
}

/// The VM's disks, boot disk (lowest userdevice) first.
fn disks(objects: &[Value]) -> Result<Vec<DeclaredDisk>, XcpngError> {
    let field = |o: &Value, k: &str| -> Option<Value> { o.get("snapshot")?.get(k).cloned() };
    let mut out = vec![];
    for o in objects {
        if o.get("class").and_then(Value::as_str) != Some("VBD") {
            continue;
        }
        if field(o, "type")
            .and_then(|t| t.as_str().map(str::to_owned))
            .as_deref()
            != Some("Disk")
        {
            continue;
        }
        let Some(vdi) = field(o, "VDI").and_then(|v| v.as_str().map(str::to_owned)) else {
            continue;
        };
        let Some(vdi_obj) = objects.iter().find(|x| {
            x.get("class").and_then(Value::as_str) == Some("VDI")
                && x.get("id").and_then(Value::as_str) == Some(vdi.as_str())
        }) else {
            continue;
        };
        let size = field(vdi_obj, "virtual_size")
            .as_ref()
            .and_then(crate::rpc::as_u64)
            .ok_or_else(|| bad(format!("VDI {vdi} has no virtual_size")))?;
        let userdevice = field(o, "userdevice")
            .as_ref()
            .and_then(crate::rpc::as_u64)
            .unwrap_or(u64::MAX);
        out.push(DeclaredDisk {
            vdi,
            virtual_size: size,
            userdevice,
        });
    }
    out.sort_by_key(|d| d.userdevice);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OVA: &str = r#"<?xml version="1.0"?><value><struct>
<member><name>version</name><value><struct><member><name>hostname</name><value>xcp &amp; co</value></member></struct></value></member>
<member><name>objects</name><value><array><data>
<value><struct><member><name>class</name><value>VBD</value></member><member><name>id</name><value>Ref:7</value></member>
 <member><name>snapshot</name><value><struct><member><name>type</name><value>Disk</value></member>
 <member><name>VDI</name><value>Ref:9</value></member><member><name>userdevice</name><value>1</value></member></struct></value></member></struct></value>
<value><struct><member><name>class</name><value>VBD</value></member><member><name>id</name><value>Ref:8</value></member>
 <member><name>snapshot</name><value><struct><member><name>type</name><value>CD</value></member>
 <member><name>VDI</name><value>OpaqueRef:NULL</value></member><member><name>userdevice</name><value>3</value></member></struct></value></member></struct></value>
<value><struct><member><name>class</name><value>VBD</value></member><member><name>id</name><value>Ref:6</value></member>
 <member><name>snapshot</name><value><struct><member><name>type</name><value><string>Disk</string></value></member>
 <member><name>VDI</name><value>Ref:5</value></member><member><name>userdevice</name><value>0</value></member>
 <member><name>other_config</name><value><struct></struct></value></member><member><name>empty</name><value></value></member>
 <member><name>tags</name><value><array><data/></array></value></member></struct></value></member></struct></value>
<value><struct><member><name>class</name><value>VDI</value></member><member><name>id</name><value>Ref:5</value></member>
 <member><name>snapshot</name><value><struct><member><name>virtual_size</name><value>4194304</value></member></struct></value></member></struct></value>
<value><struct><member><name>class</name><value>VDI</value></member><member><name>id</name><value>Ref:9</value></member>
 <member><name>snapshot</name><value><struct><member><name>virtual_size</name><value><i8>1048576</i8></value></member></struct></value></member></struct></value>
</data></array></value></member></struct></value>"#;

    #[test]
    fn disks_come_in_userdevice_order_without_cdroms() {
        let d = disks(parse(OVA).unwrap()["objects"].as_array().unwrap()).unwrap();
        assert_eq!(
            d,
            vec![
                DeclaredDisk {
                    vdi: "Ref:5".into(),
                    virtual_size: 4194304,
                    userdevice: 0
                },
                DeclaredDisk {
                    vdi: "Ref:9".into(),
                    virtual_size: 1048576,
                    userdevice: 1
                },
            ]
        );
        assert_eq!(parse(OVA).unwrap()["version"]["hostname"], "xcp & co");
    }

    #[test]
    fn broken_xml_is_refused() {
        assert!(declared("<value><struct><member>").is_err());
        assert!(declared("nothing").is_err());
        assert_eq!(declared(OVA).unwrap().firmware, Firmware::Bios);
    }

    /// ova.xml of one VM whose HVM_boot_params hold `params`.
    fn with_vm(params: &str) -> String {
        OVA.replacen(
            "<array><data>",
            &format!(
                "<array><data><value><struct><member><name>class</name><value>VM</value></member>\
                 <member><name>id</name><value>Ref:1</value></member><member><name>snapshot</name>\
                 <value><struct><member><name>HVM_boot_params</name><value><struct>{params}\
                 </struct></value></member></struct></value></member></struct></value>"
            ),
            1,
        )
    }

    #[test]
    fn the_vm_firmware_is_read_and_absent_means_bios() {
        let member = |v: &str| format!("<member><name>firmware</name><value>{v}</value></member>");
        let uefi = declared(&with_vm(&member("uefi"))).unwrap();
        assert_eq!(uefi.firmware, Firmware::Uefi);
        assert_eq!(uefi.disks.len(), 2);
        assert_eq!(
            declared(&with_vm(&member("bios"))).unwrap().firmware,
            Firmware::Bios
        );
        let order = "<member><name>order</name><value>cd</value></member>";
        assert_eq!(declared(&with_vm(order)).unwrap().firmware, Firmware::Bios);
        let e = declared(&with_vm(&member("coreboot"))).unwrap_err();
        assert!(e.to_string().contains("coreboot"), "{e}");
    }

    #[test]
    fn the_vm_shape_is_read_when_declared() {
        let vm = with_vm("").replace(
            "<member><name>HVM_boot_params</name>",
            "<member><name>VCPUs_max</name><value>4</value></member>\
             <member><name>memory_static_max</name><value>2147483648</value></member>\
             <member><name>HVM_boot_params</name>",
        );
        let shape = declared(&vm).unwrap().shape;
        assert_eq!((shape.cpus, shape.memory_mb), (Some(4), Some(2048)));
        assert_eq!(declared(OVA).unwrap().shape, crate::Shape::default());
    }
}
