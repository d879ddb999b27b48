//! Field names of a serde struct, read from the `FIELDS` list serde's derive
//! hands to `deserialize_struct`. Lets a test prove that an example value
//! sets every modelled field, so no field escapes the schema check.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

struct Probe {
    fields: Option<&'static [&'static str]>,
}

impl<'de> Deserializer<'de> for &mut Probe {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.fields = Some(fields);
        Err(de::Error::custom("probed"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

pub fn field_names<T: DeserializeOwned>() -> Vec<&'static str> {
    let mut probe = Probe { fields: None };
    let _ = T::deserialize(&mut probe);
    let mut fields = probe
        .fields
        .expect("type deserialises as a struct")
        .to_vec();
    fields.sort_unstable();
    fields
}
