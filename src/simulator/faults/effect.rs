//! The effect a fault rule has, and its two written shapes: a bare name (`hang`) or a one-key
//! map (`{status: 503}`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// What a matching rule does to the request.
///
/// Written as a bare name for the effects without parameters (`hang`) and as a one-key map for
/// the others (`{status: 503}`); JSON uses the same shapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Answer this HTTP status with Google's error body, e.g. `{status: 503}`.
    Status(u16),
    /// Answer a status with Google's error body and a `Retry-After` header in whole seconds.
    /// The header value is sent as written: it is not multiplied by the time scale.
    RetryAfter {
        /// The HTTP status, usually 429 or 503.
        status: u16,
        /// The pause the client is asked to take.
        #[serde(with = "humantime_serde")]
        after: Duration,
    },
    /// Send the status line, the headers and half of the body, then reset the connection.
    ResetMidBody,
    /// Announce the full `Content-Length`, send half of the body, then close the connection.
    TruncatedBody,
    /// Never answer; the connection stays open until the client gives up.
    Hang,
    /// Read the request, then close the connection before any response.
    Close,
    /// Answer 200 with the job record stripped of its results (`metadata.output` and
    /// `response`): a SUCCEEDED job whose record lost its output. Other answers are unchanged.
    DropOutput,
}

const EFFECT_NAMES: &[&str] = &[
    "status",
    "retry_after",
    "reset_mid_body",
    "truncated_body",
    "hang",
    "close",
    "drop_output",
];

impl<'de> Deserialize<'de> for Effect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Effect, D::Error> {
        deserializer.deserialize_any(EffectVisitor)
    }
}

/// Reads the two shapes an effect has; serde's own enum support would want YAML tags.
struct EffectVisitor;

impl<'de> Visitor<'de> for EffectVisitor {
    type Value = Effect;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an effect: hang, close, reset_mid_body, truncated_body, drop_output, {status: CODE} or \
             {retry_after: {status: CODE, after: DURATION}}",
        )
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Effect, E> {
        match name {
            "reset_mid_body" => Ok(Effect::ResetMidBody),
            "truncated_body" => Ok(Effect::TruncatedBody),
            "hang" => Ok(Effect::Hang),
            "close" => Ok(Effect::Close),
            "drop_output" => Ok(Effect::DropOutput),
            "status" | "retry_after" => Err(E::custom(format!(
                "`{name}` needs a value, e.g. {{{name}: ...}}"
            ))),
            other => Err(E::unknown_variant(other, EFFECT_NAMES)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Effect, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RetryAfter {
            status: u16,
            #[serde(with = "humantime_serde")]
            after: Duration,
        }

        let Some(name) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        let effect = match name.as_str() {
            "status" => Effect::Status(map.next_value()?),
            "retry_after" => {
                let RetryAfter { status, after } = map.next_value()?;
                Effect::RetryAfter { status, after }
            }
            other => return Err(de::Error::unknown_variant(other, EFFECT_NAMES)),
        };
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom("an effect is a map with exactly one key"));
        }
        Ok(effect)
    }
}
