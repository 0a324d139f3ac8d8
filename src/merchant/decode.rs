//! Typed, borrowing views of what the provider sends the merchant in the Stripe dialect:
//! PaymentIntents, refunds, card-error bodies, search results and webhook events. Each is
//! decoded straight from the bytes, keeping only the fields the merchant reads (strings
//! borrowed from the body unless they carry escapes), instead of a `serde_json::Value` tree.
//!
//! The reading is as forgiving as indexing a `Value` was: a field of an unexpected type
//! reads as absent, an object where another shape was expected as empty, unknown fields are
//! skipped, and of repeated keys the last one counts. Only bytes that are not JSON at all
//! fail to decode.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The scalar visits that make a [`Text`] absent or an [`Obj`] not an object.
macro_rules! not_a_string {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
}

/// A JSON string field: `Some` when the value is a string, `None` for anything else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Whether the value is the string `s`.
    pub fn is(&self, s: &str) -> bool {
        self.as_str() == Some(s)
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(s.to_string()))))
            }
            fn visit_string<E>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(s))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            not_a_string!();
        }
        d.deserialize_any(V)
    }
}

/// A view of one JSON object: the fields it keeps, filled in as their keys come.
pub trait Fields<'de>: Default {
    /// Reads the value of `key` from `map` (a key it does not keep: skip the value).
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// A JSON value read as the object view `T`: `Some` for an object, `None` for anything else
/// (the fields of an absent object all read as absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Fields<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Fields<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Obj<T>, A::Error> {
                let mut t = T::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.as_str() {
                        Some(k) => t.field(k, &mut map)?,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Obj(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Obj<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            not_a_string!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A JSON value read as an array of `T`: `Some` for an array, `None` for anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List<T>(pub Option<Vec<T>>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(t) = seq.next_element::<T>()? {
                    v.push(t);
                }
                Ok(List(Some(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<List<T>, E> {
                Ok(List(None))
            }
            not_a_string!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Skips the value of a key a view does not keep.
fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// A PaymentIntent (or a refund: `object` tells), as far as the merchant reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intent<'a> {
    pub id: Text<'a>,
    pub object: Text<'a>,
    pub status: Text<'a>,
    /// `Some` only when `last_payment_error` is an object.
    pub last_payment_error: Obj<CardError<'a>>,
    /// `next_action.redirect_to_url.url`.
    pub redirect_url: Text<'a>,
    /// `metadata.order_id`.
    pub order_id: Text<'a>,
    pub cancellation_reason: Text<'a>,
}

impl<'de> Fields<'de> for Intent<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "id" => self.id = map.next_value()?,
            "object" => self.object = map.next_value()?,
            "status" => self.status = map.next_value()?,
            "last_payment_error" => self.last_payment_error = map.next_value()?,
            "next_action" => {
                let next: Obj<NextAction<'de>> = map.next_value()?;
                self.redirect_url = next.0.map(|n| n.url).unwrap_or_default();
            }
            "metadata" => {
                let m: Obj<Metadata<'de>> = map.next_value()?;
                self.order_id = m.0.map(|m| m.order_id).unwrap_or_default();
            }
            "cancellation_reason" => self.cancellation_reason = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// `next_action`, down to `redirect_to_url.url`.
#[derive(Default)]
struct NextAction<'a> {
    url: Text<'a>,
}

impl<'de> Fields<'de> for NextAction<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "redirect_to_url" => {
                let r: Obj<RedirectToUrl<'de>> = map.next_value()?;
                self.url = r.0.map(|r| r.url).unwrap_or_default();
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default)]
struct RedirectToUrl<'a> {
    url: Text<'a>,
}

impl<'de> Fields<'de> for RedirectToUrl<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "url" => self.url = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default)]
struct Metadata<'a> {
    order_id: Text<'a>,
}

impl<'de> Fields<'de> for Metadata<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "order_id" => self.order_id = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// A card error: `last_payment_error`, or the `error` of a 402 body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardError<'a> {
    pub decline_code: Text<'a>,
    /// `payment_intent.id` (a 402 body names the declined intent).
    pub payment_intent_id: Text<'a>,
}

impl<'de> Fields<'de> for CardError<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "decline_code" => self.decline_code = map.next_value()?,
            "payment_intent" => {
                let pi: Obj<Intent<'de>> = map.next_value()?;
                self.payment_intent_id = pi.0.map(|pi| pi.id).unwrap_or_default();
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// An error body: `{"error": {…}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorBody<'a> {
    pub error: Obj<CardError<'a>>,
}

impl<'de> Fields<'de> for ErrorBody<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "error" => self.error = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// A search result: `{"data": [intent, …]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchResult<'a> {
    pub data: List<Obj<Intent<'a>>>,
}

impl<'de> Fields<'de> for SearchResult<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "data" => self.data = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// A webhook event: its id, type and `data.object`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event<'a> {
    pub id: Text<'a>,
    pub kind: Text<'a>,
    /// `data.object`; all fields absent when there is none.
    pub object: Intent<'a>,
}

impl<'de> Fields<'de> for Event<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "id" => self.id = map.next_value()?,
            "type" => self.kind = map.next_value()?,
            "data" => {
                let data: Obj<EventData<'de>> = map.next_value()?;
                self.object = data.0.map(|d| d.object).unwrap_or_default();
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[derive(Default)]
struct EventData<'a> {
    object: Intent<'a>,
}

impl<'de> Fields<'de> for EventData<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "object" => {
                let o: Obj<Intent<'de>> = map.next_value()?;
                self.object = o.0.unwrap_or_default();
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// Decodes `body` as the object view `T`: `Ok(None)` for JSON that is not an object,
/// `Err` for bytes that are not JSON.
pub fn object<'a, T: Fields<'a>>(body: &'a [u8]) -> serde_json::Result<Option<T>> {
    serde_json::from_slice::<Obj<T>>(body).map(|o| o.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn an_intent_keeps_the_fields_the_merchant_reads_borrowed_from_the_body() {
        let b = bytes(json!({"id":"pi_1","object":"payment_intent","amount":1000,
            "status":"requires_action","metadata":{"order_id":"ord-1","customer_id":"c"},
            "next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"http://x/y"}},
            "last_payment_error":null,"cancellation_reason":null}));
        let pi: Intent = object(&b).unwrap().unwrap();
        assert!(matches!(pi.id.0, Some(Cow::Borrowed("pi_1"))));
        assert!(pi.status.is("requires_action") && pi.object.is("payment_intent"));
        assert_eq!(pi.order_id.as_str(), Some("ord-1"));
        assert_eq!(pi.redirect_url.as_str(), Some("http://x/y"));
        assert_eq!(pi.last_payment_error, Obj(None));
        assert_eq!(pi.cancellation_reason, Text(None));
    }

    #[test]
    fn fields_of_another_type_read_as_absent_and_the_last_repeated_key_counts() {
        let b =
            br#"{"id":7,"status":["succeeded"],"metadata":"ord-1","object":"x","object":"refund",
            "last_payment_error":"card_declined","next_action":{"redirect_to_url":3}}"#;
        let pi: Intent = object(b).unwrap().unwrap();
        assert_eq!((pi.id.as_str(), pi.status.as_str()), (None, None));
        assert_eq!(pi.order_id.as_str(), None);
        assert!(pi.object.is("refund"));
        assert_eq!(
            pi.last_payment_error,
            Obj(None),
            "a string is not an object"
        );
        assert_eq!(pi.redirect_url.as_str(), None);
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        let pi: Intent = object(br#"{"id":"pi_\u0031\"x"}"#).unwrap().unwrap();
        assert_eq!(pi.id.as_str(), Some("pi_1\"x"));
    }

    #[test]
    fn json_that_is_not_an_object_is_none_and_bytes_that_are_not_json_an_error() {
        assert_eq!(object::<Intent>(b"[1,2]").unwrap(), None);
        assert_eq!(object::<Intent>(b"null").unwrap(), None);
        assert!(object::<Intent>(b"not json").is_err());
        assert!(object::<Intent>(b"{\"id\":").is_err());
    }

    #[test]
    fn a_decline_body_names_its_code_and_intent() {
        let b = bytes(
            json!({"error":{"type":"card_error","decline_code":"fraudulent",
            "message":"Your card was declined.","payment_intent":{"id":"pi_d","status":"x"}}}),
        );
        let e: ErrorBody = object(&b).unwrap().unwrap();
        let err = e.error.0.unwrap();
        assert_eq!(err.decline_code.as_str(), Some("fraudulent"));
        assert_eq!(err.payment_intent_id.as_str(), Some("pi_d"));
    }

    #[test]
    fn a_search_lists_its_intents_and_anything_but_an_array_is_no_list() {
        let b = bytes(json!({"object":"search_result","data":[{"id":"pi_1"},3,{"id":"pi_2"}]}));
        let s: SearchResult = object(&b).unwrap().unwrap();
        let ids: Vec<Option<&str>> = s
            .data
            .0
            .as_ref()
            .unwrap()
            .iter()
            .map(|o| o.0.as_ref().and_then(|pi| pi.id.as_str()))
            .collect();
        assert_eq!(ids, [Some("pi_1"), None, Some("pi_2")]);
        let s: SearchResult = object(br#"{"data":{"id":"pi_1"}}"#).unwrap().unwrap();
        assert_eq!(s.data, List(None));
    }

    #[test]
    fn an_event_reads_its_id_type_and_object() {
        let b = bytes(
            json!({"id":"evt_1","object":"event","type":"payment_intent.succeeded",
            "created":1,"data":{"object":{"id":"pi_1","metadata":{"order_id":"ord-1"},
            "last_payment_error":{"decline_code":"insufficient_funds"}}}}),
        );
        let e: Event = object(&b).unwrap().unwrap();
        assert!(e.id.is("evt_1") && e.kind.is("payment_intent.succeeded"));
        assert_eq!(e.object.order_id.as_str(), Some("ord-1"));
        let err = e.object.last_payment_error.0.unwrap();
        assert_eq!(err.decline_code.as_str(), Some("insufficient_funds"));
        let bare: Event = object(br#"{"id":"evt_2","data":null}"#).unwrap().unwrap();
        assert_eq!(bare.object, Intent::default());
    }
}
