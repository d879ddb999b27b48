//! Integers in request bodies as JSON Schema counts them: `2` and `2.0`
//! are the same integer (clients that keep every number a double, such as
//! JavaScript's, send the latter), while `2.5` is not one.

use serde::{Deserialize, Deserializer};

fn integral<E: serde::de::Error>(v: f64) -> Result<u32, E> {
    if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
        Ok(v as u32)
    } else {
        Err(E::custom(format!(
            "{v} is not a whole number from 0 to {}",
            u32::MAX
        )))
    }
}

/// A `u32` given as an integer or an integral float.
pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    integral(f64::deserialize(d)?)
}

/// An optional `u32` given as an integer or an integral float.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Option::<f64>::deserialize(d)?.map(integral).transpose()
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize, Debug)]
    struct T {
        #[serde(deserialize_with = "super::u32")]
        a: u32,
        #[serde(default, deserialize_with = "super::opt_u32")]
        b: Option<u32>,
    }

    #[test]
    fn whole_floats_are_integers_and_nothing_else_is() {
        let t: T = serde_json::from_str(r#"{"a": 2.0, "b": 7}"#).unwrap();
        assert_eq!((t.a, t.b), (2, Some(7)));
        let t: T = serde_json::from_str(r#"{"a": 3, "b": null}"#).unwrap();
        assert_eq!((t.a, t.b), (3, None));
        for bad in [
            r#"{"a": 2.5}"#,
            r#"{"a": -1}"#,
            r#"{"a": 1e12}"#,
            r#"{"a": "2"}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
    }
}
