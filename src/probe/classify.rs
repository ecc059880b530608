//! Maps a transport error to its [`Outcome`] by looking at the typed errors in its source chain.

use std::error::Error as StdError;
use std::io;

use super::resolver::DnsFailure;
use crate::outcome::Outcome;

/// The outcome a failed request came to.
pub fn classify_error(err: &reqwest::Error) -> Outcome {
    if err.is_timeout() {
        return Outcome::Timeout;
    }

    let mut io_kind = None;
    for cause in chain(err) {
        if cause.is::<DnsFailure>() {
            return Outcome::DnsError;
        }
        if cause.is::<rustls::Error>() {
            return Outcome::TlsError;
        }
        if let Some(io_err) = cause.downcast_ref::<io::Error>() {
            // tokio-rustls reports TLS failures as io::Error wrapping the rustls error.
            if io_err.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
                return Outcome::TlsError;
            }
            io_kind.get_or_insert(io_err.kind());
        }
    }

    if err.is_body() || err.is_decode() {
        return Outcome::BodyError;
    }
    if io_kind == Some(io::ErrorKind::TimedOut) {
        return Outcome::Timeout;
    }
    // Refused, reset or closed before any response: the connection did not carry a request.
    Outcome::ConnectError
}

fn chain<'a>(err: &'a reqwest::Error) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let first: &'a (dyn StdError + 'static) = err;
    std::iter::successors(Some(first), |&e| e.source())
}
