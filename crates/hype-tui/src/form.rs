//! The create form: name, CPUs, memory and image, typed into and turned
//! into the API's create body. The server validates the name and limits;
//! the form only checks that the numbers are numbers.

use hype_types::vm::{DEFAULT_CPU_CORES, DEFAULT_MEMORY_MB};
use hype_types::CreateVm;

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
}
