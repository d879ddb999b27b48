//! Warm pools: sandboxes of one shape kept ready, handed out on create.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most VMs one pool keeps ready.
pub const MAX_POOL_SIZE: u32 = 64;

fn default_cpu() -> u32 {
    crate::vm::DEFAULT_CPU_CORES
}

fn default_memory() -> u32 {
    crate::vm::DEFAULT_MEMORY_MB
}

/// `POST /api/v1/pools`: keep `size` sandboxes of this shape ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePool {
    /// `^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`
    #[schema(
        pattern = "^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$",
        min_length = 1,
        max_length = 32
    )]
    pub name: String,
    /// An image booted on hype's kernel (such as `browser` or `base`).
    pub image: String,
    #[serde(default = "default_cpu", deserialize_with = "crate::lenient::u32")]
    #[schema(minimum = 1, default = 1)]
    pub cpu_cores: u32,
    #[serde(default = "default_memory", deserialize_with = "crate::lenient::u32")]
    #[schema(minimum = 128, default = 512)]
    pub memory_mb: u32,
    /// How many sandboxes to keep ready.
    #[serde(deserialize_with = "crate::lenient::u32")]
    #[schema(minimum = 1, maximum = 64)]
    pub size: u32,
}

impl CreatePool {
    /// hyped's `--pool NAME:IMAGE:CPUS:MEMORY_MIB:SIZE`.
    pub fn from_spec(spec: &str) -> Result<Self, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let [name, image, cpu, memory, size] = parts[..] else {
            return Err(format!(
                "'{spec}': a warm pool is NAME:IMAGE:CPUS:MEMORY_MIB:SIZE, such as browsers:browser:2:1536:4"
            ));
        };
        let number = |what: &str, v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("'{spec}': {what} '{v}' is not a whole number"))
        };
        let pool = CreatePool {
            name: name.into(),
            image: image.into(),
            cpu_cores: number("CPUS", cpu)?,
            memory_mb: number("MEMORY_MIB", memory)?,
            size: number("SIZE", size)?,
        };
        pool.validate()?;
        Ok(pool)
    }

    /// Checks what needs no host: the name and the size.
    pub fn validate(&self) -> Result<(), String> {
        let ok = self.name.len() <= 32 && crate::validate_name(&self.name).is_ok();
        if !ok {
            return Err(format!(
                "name: '{}' is not 1 to 32 of a-z, 0-9 and '-', starting and ending with a letter or digit",
                self.name
            ));
        }
        if self.size == 0 || self.size > MAX_POOL_SIZE {
            return Err(format!("size: 1..={MAX_POOL_SIZE}"));
        }
        Ok(())
    }
}

/// What a pool is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoolState {
    /// Booting its first VM cold and saving it as the pool's snapshot.
    Building,
    /// Forking from its snapshot until `size` are ready.
    Filling,
    /// `size` sandboxes are ready.
    Ready,
    /// Its last attempt failed (see `error`); it tries again.
    Failing,
}

/// A warm pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Pool {
    pub name: String,
    pub image: String,
    pub cpu_cores: u32,
    pub memory_mb: u32,
    pub size: u32,
    /// Sandboxes ready to be handed out now.
    pub ready: u32,
    /// Sandboxes on their way.
    pub starting: u32,
    pub state: PoolState,
    /// Why the last attempt failed, while `failing`.
    pub error: Option<String>,
    /// The snapshot its sandboxes are forked from, once made.
    pub snapshot: Option<String>,
    /// Creates served from it since hyped started.
    pub claims: u64,
    /// Creates that found it empty since hyped started.
    pub misses: u64,
    /// How long its last refill fork took to be ready.
    pub last_refill_ms: Option<u64>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PoolList {
    pub pools: Vec<Pool>,
}

/// `pool` on a create: a pool's name, or `false` for a cold boot even
/// when a pool of the same shape exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PoolChoice {
    Name(String),
    Flag(bool),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_pool_defaults_and_rejects_unknown_fields() {
        let p: CreatePool =
            serde_json::from_str(r#"{"name":"b","image":"browser","size":2}"#).unwrap();
        assert_eq!((p.cpu_cores, p.memory_mb), (1, 512));
        assert!(p.validate().is_ok());
        assert!(serde_json::from_str::<CreatePool>(
            r#"{"name":"b","image":"browser","size":2,"extra":1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<CreatePool>(r#"{"name":"b","image":"browser"}"#).is_err());
    }

    #[test]
    fn bad_names_and_sizes_are_refused() {
        let mut p: CreatePool =
            serde_json::from_str(r#"{"name":"b","image":"browser","size":2}"#).unwrap();
        for bad in ["", "-a", "A", &"a".repeat(33)] {
            p.name = bad.into();
            assert!(p.validate().is_err(), "{bad}");
        }
        p.name = "ok".into();
        for bad in [0, 65] {
            p.size = bad;
            assert!(p.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn pool_specs_parse_or_say_why_not() {
        let p = CreatePool::from_spec("browsers:browser:2:1536:4").unwrap();
        assert_eq!(
            (
                p.name.as_str(),
                p.image.as_str(),
                p.cpu_cores,
                p.memory_mb,
                p.size
            ),
            ("browsers", "browser", 2, 1536, 4)
        );
        for bad in [
            "b:browser:2:1536",
            "b:browser:two:1536:4",
            "B:browser:2:1536:4",
            "b:browser:2:1536:0",
        ] {
            assert!(CreatePool::from_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pool_choice_is_a_name_or_a_flag() {
        assert_eq!(
            serde_json::from_str::<PoolChoice>(r#""warm""#).unwrap(),
            PoolChoice::Name("warm".into())
        );
        assert_eq!(
            serde_json::from_str::<PoolChoice>("false").unwrap(),
            PoolChoice::Flag(false)
        );
        assert!(serde_json::from_str::<PoolChoice>("3").is_err());
    }
}
