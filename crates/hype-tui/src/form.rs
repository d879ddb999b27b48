//! The forms: create (name, CPUs, memory and image, turned into the API's
//! create body) and import (a source's kind, URL, user and password, turned
//! into a `Source` the picker's inventory and jobs are asked with). The
//! server validates names, limits and URLs; the forms only check what they
//! must to build a request.

use hype_types::vm::{DEFAULT_CPU_CORES, DEFAULT_MEMORY_MB};
use hype_types::{CreateVm, SourceKind};
use serde_json::{json, Value};

pub const FIELDS: [&str; 4] = ["name", "cpus", "memory (MiB)", "image"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateForm {
    pub values: [String; 4],
    pub focus: usize,
}

impl Default for CreateForm {
    fn default() -> Self {
        Self {
            values: [
                String::new(),
                DEFAULT_CPU_CORES.to_string(),
                DEFAULT_MEMORY_MB.to_string(),
                String::new(),
            ],
            focus: 0,
        }
    }
}

impl CreateForm {
    pub fn next(&mut self) {
        self.focus = (self.focus + 1) % FIELDS.len();
    }

    pub fn prev(&mut self) {
        self.focus = (self.focus + FIELDS.len() - 1) % FIELDS.len();
    }

    pub fn type_char(&mut self, c: char) {
        self.values[self.focus].push(c);
    }

    pub fn backspace(&mut self) {
        self.values[self.focus].pop();
    }

    /// The create body, or what is wrong with the form.
    pub fn to_request(&self) -> Result<CreateVm, String> {
        let [name, cpu, mem, image] = &self.values;
        let name = name.trim();
        if name.is_empty() {
            return Err("the VM needs a name".into());
        }
        let number = |label: &str, v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("{label} must be a whole number, not {v:?}"))
        };
        let image = image.trim();
        Ok(CreateVm {
            name: name.to_owned(),
            cpu_cores: number("cpus", cpu)?,
            memory_mb: number("memory", mem)?,
            image: (!image.is_empty()).then(|| image.to_owned()),
            kernel_cmdline: None,
            vmm: Default::default(),
            network: None,
            ttl_seconds: None,
            idle_timeout_seconds: None,
            persist: false,
            snapshot: None,
            count: None,
            pool: None,
            record: false,
        })
    }
}

pub const IMPORT_FIELDS: [&str; 5] = ["kind", "url", "username", "password", "insecure"];
/// The password field, shown masked.
pub const PASSWORD_FIELD: usize = 3;

/// Where an import reads from. The password, when typed, lives only here
/// until the jobs are submitted; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Source {
    pub kind: SourceKind,
    pub url: String,
    pub username: String,
    /// `None`: `HYPE_VSPHERE_PASSWORD` / `HYPE_XCPNG_PASSWORD` of this
    /// shell, else hyped's own (if its rules allow).
    pub password: Option<String>,
    pub insecure: bool,
}

/// The source kind typed in the form's first field, if it is one.
pub fn source_kind(typed: &str) -> Option<SourceKind> {
    [SourceKind::Xcpng, SourceKind::Vsphere]
        .into_iter()
        .find(|k| k.as_str() == typed.trim())
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl Source {
    /// The variable the CLI reads this kind's password from.
    pub fn password_env(&self) -> &'static str {
        self.kind.job_kind().password_env()
    }

    /// `POST /api/v1/sources/inventory`'s body.
    pub fn inventory_body(&self, password: Option<&str>) -> Value {
        let mut b = json!({"kind": self.kind.as_str(), "url": self.url,
            "username": self.username, "insecure": self.insecure});
        if let Some(p) = password {
            b["password"] = json!(p);
        }
        b
    }

    /// One job of the batch: the VM `vm` (as `picker::job_target` names
    /// it) into the image `image`, booting through firmware as
    /// `hype images import` does by default.
    pub fn job_body(&self, password: Option<&str>, vm: &str, image: &str) -> Value {
        let kind = self.kind.job_kind().as_str();
        let mut b = json!({"kind": kind, "url": self.url, "username": self.username,
            "insecure": self.insecure, "vm": vm, "name": image, "boot": "firmware"});
        if let Some(p) = password {
            b["password"] = json!(p);
        }
        b
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct ImportForm {
    pub values: [String; 5],
    pub focus: usize,
}

impl std::fmt::Debug for ImportForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportForm")
            .field("kind", &self.values[0])
            .field("url", &self.values[1])
            .field("focus", &self.focus)
            .finish_non_exhaustive()
    }
}

impl Default for ImportForm {
    fn default() -> Self {
        Self {
            values: [
                "xcpng".into(),
                String::new(),
                "root".into(),
                String::new(),
                "no".into(),
            ],
            focus: 1,
        }
    }
}

impl ImportForm {
    pub fn next(&mut self) {
        self.focus = (self.focus + 1) % IMPORT_FIELDS.len();
    }

    pub fn prev(&mut self) {
        self.focus = (self.focus + IMPORT_FIELDS.len() - 1) % IMPORT_FIELDS.len();
    }

    pub fn type_char(&mut self, c: char) {
        self.values[self.focus].push(c);
    }

    pub fn backspace(&mut self) {
        self.values[self.focus].pop();
    }

    /// The source, or what is wrong with the form.
    pub fn to_source(&self) -> Result<Source, String> {
        let [kind, url, user, password, insecure] = &self.values;
        let kind = source_kind(kind)
            .ok_or_else(|| format!("kind must be xcpng or vsphere, not {:?}", kind.trim()))?;
        let url = url.trim();
        if url.is_empty() {
            return Err("the source needs a URL".into());
        }
        let username = user.trim();
        if username.is_empty() {
            return Err("the source needs a username".into());
        }
        let insecure = match insecure.trim() {
            "y" | "yes" => true,
            "n" | "no" | "" => false,
            v => return Err(format!("insecure must be yes or no, not {v:?}")),
        };
        Ok(Source {
            kind,
            url: url.to_owned(),
            username: username.to_owned(),
            password: (!password.is_empty()).then(|| password.clone()),
            insecure,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_create_body() {
        let mut f = CreateForm::default();
        "web".chars().for_each(|c| f.type_char(c));
        f.next();
        f.backspace();
        f.type_char('2');
        f.prev();
        f.prev();
        f.type_char('x');
        f.backspace();
        assert_eq!(f.focus, 3);
        "base".chars().for_each(|c| f.type_char(c));
        let req = f.to_request().unwrap();
        assert_eq!(
            (req.name.as_str(), req.cpu_cores, req.memory_mb),
            ("web", 2, 512)
        );
        assert_eq!(req.image.as_deref(), Some("base"));
    }

    #[test]
    fn says_what_is_wrong() {
        let mut f = CreateForm::default();
        assert_eq!(f.to_request().unwrap_err(), "the VM needs a name");
        f.type_char('a');
        f.values[2] = "lots".into();
        assert_eq!(
            f.to_request().unwrap_err(),
            "memory must be a whole number, not \"lots\""
        );
        f.values[2] = "256".into();
        assert_eq!(f.to_request().unwrap().image, None);
    }

    #[test]
    fn import_form_builds_the_source_and_never_shows_the_password() {
        let mut f = ImportForm::default();
        assert_eq!(f.to_source().unwrap_err(), "the source needs a URL");
        "https://xcp1".chars().for_each(|c| f.type_char(c));
        f.next();
        f.next();
        "s3cret-pw".chars().for_each(|c| f.type_char(c));
        f.next();
        f.backspace();
        f.backspace();
        f.type_char('y');
        let s = f.to_source().unwrap();
        assert_eq!(
            (s.kind, s.url.as_str(), s.username.as_str(), s.insecure),
            (SourceKind::Xcpng, "https://xcp1", "root", true)
        );
        assert_eq!(s.password.as_deref(), Some("s3cret-pw"));
        assert!(!format!("{s:?}{f:?}").contains("s3cret"));
        let job = s.job_body(Some("pw"), "uuid-1", "web01");
        assert_eq!(
            (
                job["kind"].as_str(),
                job["vm"].as_str(),
                job["name"].as_str()
            ),
            (Some("xcpng_export"), Some("uuid-1"), Some("web01"))
        );
        assert!(s.inventory_body(None).get("password").is_none());
        f.values[0] = "hyperv".into();
        assert!(f.to_source().unwrap_err().contains("xcpng or vsphere"));
        f.values[0] = "vsphere".into();
        f.values[3].clear();
        let s = f.to_source().unwrap();
        assert_eq!(
            (s.password.as_deref(), s.password_env()),
            (None, "HYPE_VSPHERE_PASSWORD")
        );
    }
}
