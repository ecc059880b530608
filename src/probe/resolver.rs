//! Name resolution for probe requests, with lookup failures marked so they classify as
//! `dns_error` without reading error text.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A failed name lookup. The probe's error classifier looks for this type.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve host {host}")]
pub struct DnsFailure {
    /// The host name.
    pub host: String,
    /// The resolver's own error.
    #[source]
    pub source: std::io::Error,
}

/// The operating system's resolver (`getaddrinfo`), run by tokio.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();

            let lookup = tokio::net::lookup_host((host.clone(), 0)).await;
            let addrs = match lookup {
                Ok(addrs) => addrs,
                Err(source) => return Err(Box::new(DnsFailure { host, source }) as _),
            };
            let addrs: Vec<SocketAddr> = addrs.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
