//! Delivery over HTTP: a JSON body POSTed with an `Idempotency-Key` and,
//! when a secret is set, an `X-Ainima-Signature: sha256=HEX` header (HMAC-
//! SHA256 of the body), with a timeout, over rustls for `https`. Requests to
//! loopback, private, link-local or unspecified addresses are refused unless
//! the host is allow-listed (a local service the user chose).

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::{Error, Result};

/// A webhook target.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Key for the signature header.
    pub secret: Option<Vec<u8>>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Hosts allowed although they resolve to private or loopback addresses.
    pub allow_private: Vec<String>,
    /// PEM certificates to trust instead of the public (Mozilla) roots, for
    /// a service behind a private certificate authority. Empty: the public
    /// roots.
    pub roots_pem: Vec<u8>,
}

/// HMAC-SHA256 of `body` under `secret`, hex.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `header`, an `X-Ainima-Signature` value (`sha256=HEX`), signs
/// `body` under `secret`: what a receiver checks. The comparison takes the
/// same time however much of it matches.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(tag) = header
        .and_then(|h| h.strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

/// Whether an address is not on the public internet.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_loopback()
                || v.is_private()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
                || v.octets()[0] == 100 && (v.octets()[1] & 0xC0) == 64 // carrier-grade NAT
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            v.is_loopback()
                || v.is_unspecified()
                || (s[0] & 0xFE00) == 0xFC00 // unique local
                || (s[0] & 0xFFC0) == 0xFE80 // link local
                || v.to_ipv4_mapped().is_some_and(|m| is_private(IpAddr::V4(m)))
        }
    }
}

/// (host, port) of an http(s) URL.
fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .map_or(Some(default), |p| p.parse().ok())?;
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default)),
    }
    .filter(|(h, _)| !h.is_empty())
}

impl Webhook {
    /// A target with a 10 s timeout, no secret, nothing private allowed.
    pub fn new(url: &str) -> Webhook {
        Webhook {
            url: url.to_string(),
            secret: None,
            timeout: Duration::from_secs(10),
            allow_private: Vec::new(),
            roots_pem: Vec::new(),
        }
    }

    fn refuse(&self, message: String) -> Error {
        Error::Delivery {
            target: self.url.clone(),
            message,
            retryable: false,
        }
    }

    /// Checks the URL and where it resolves to.
    pub fn check_target(&self) -> Result<()> {
        let Some((host, port)) = host_port(&self.url) else {
            return Err(self.refuse("not an http:// or https:// URL".into()));
        };
        if self
            .allow_private
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host))
        {
            return Ok(());
        }
        let addrs: Vec<_> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| Error::Delivery {
                target: self.url.clone(),
                message: format!("cannot resolve {host}: {e}"),
                retryable: true,
            })?
            .collect();
        if let Some(a) = addrs.iter().find(|a| is_private(a.ip())) {
            return Err(self.refuse(format!(
                "{host} is a private or loopback address ({}); allow it explicitly",
                a.ip()
            )));
        }
        Ok(())
    }

    /// POSTs `body` with the idempotency key; the status code on a 2xx.
    pub fn deliver(&self, key: &str, body: &Value) -> Result<u16> {
        self.check_target()?;
        let bytes = serde_json::to_vec(body).map_err(|e| self.refuse(e.to_string()))?;
        let mut tls = ureq::tls::TlsConfig::builder();
        if !self.roots_pem.is_empty() {
            let certs = ureq::tls::parse_pem(&self.roots_pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| self.refuse(format!("the trusted roots: {e}")))?;
            if certs.is_empty() {
                return Err(self.refuse("the trusted roots hold no certificate".into()));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .build()
            .into();
        let mut req = agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key);
        if let Some(secret) = &self.secret {
            req = req.header(
                "X-Ainima-Signature",
                format!("sha256={}", signature(secret, &bytes)),
            );
        }
        let resp = req.send(&bytes[..]).map_err(|e| Error::Delivery {
            target: self.url.clone(),
            message: e.to_string(),
            retryable: true,
        })?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(status),
            408 | 425 | 429 | 500..=599 => Err(Error::Delivery {
                target: self.url.clone(),
                message: format!("HTTP {status}"),
                retryable: true,
            }),
            _ => Err(self.refuse(format!("HTTP {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_addresses() {
        assert_eq!(
            host_port("https://example.com/hook"),
            Some(("example.com".into(), 443))
        );
        assert_eq!(
            host_port("http://user@127.0.0.1:8080/x?y"),
            Some(("127.0.0.1".into(), 8080))
        );
        assert_eq!(host_port("http://[::1]:9/"), Some(("::1".into(), 9)));
        assert_eq!(host_port("ftp://example.com"), None);
        assert_eq!(host_port("http://:80/"), None);
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
        ] {
            assert!(
                is_private(private.parse().expect("an address")),
                "{private}"
            );
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(public.parse().expect("an address")), "{public}");
        }
    }

    #[test]
    fn loopback_is_refused_unless_allowed() {
        let mut w = Webhook::new("http://127.0.0.1:9/hook");
        let e = w.check_target().expect_err("refused");
        assert!(
            matches!(
                e,
                Error::Delivery {
                    retryable: false,
                    ..
                }
            ),
            "{e}"
        );
        w.allow_private.push("127.0.0.1".into());
        assert!(w.check_target().is_ok());
    }

    #[test]
    fn signature_is_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let header = format!("sha256={}", signature(b"k", b"body"));
        assert!(verify(b"k", b"body", Some(&header)));
        assert!(!verify(b"k", b"body!", Some(&header)));
        assert!(!verify(b"other", b"body", Some(&header)));
        assert!(!verify(b"k", b"body", Some("sha256=zz")));
        assert!(!verify(b"k", b"body", Some(&header[7..])));
        assert!(!verify(b"k", b"body", None));
    }
}
