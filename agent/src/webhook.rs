//! Delivery over HTTP: a JSON body POSTed with an `Idempotency-Key` and,
//! when a secret is set, an `X-Ainima-Signature: sha256=HEX` header (HMAC-
//! SHA256 of the body), with a timeout, over rustls for `https`. Requests to
//! loopback, private, link-local or unspecified addresses are refused unless
//! the host is allow-listed (a local service the user chose).

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

pub use crate::net::is_private;

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

    fn reach(&self) -> crate::net::Reach {
        crate::net::Reach::Public {
            allow: self.allow_private.clone(),
        }
    }

    /// POSTs `body` with the idempotency key; the status code on a 2xx.
    /// The connection goes only to addresses checked against the
    /// allow-list; a redirect is refused, never followed (the signature and
    /// key would go where the receiver says).
    pub fn deliver(&self, key: &str, body: &Value) -> Result<u16> {
        crate::net::parse(&self.url).map_err(|m| self.refuse(m))?;
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
        let agent = crate::net::agent(
            self.reach(),
            crate::net::Options {
                timeout: self.timeout,
                tls: Some(tls.build()),
            },
        );
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
        let resp = req
            .send(&bytes[..])
            .map_err(|e| match crate::net::refusal(&e) {
                Some(m) => self.refuse(m),
                None => Error::Delivery {
                    target: self.url.clone(),
                    message: e.to_string(),
                    retryable: true,
                },
            })?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(status),
            408 | 425 | 429 | 500..=599 => Err(Error::Delivery {
                target: self.url.clone(),
                message: format!("HTTP {status}"),
                retryable: true,
            }),
            300..=399 => Err(self.refuse(format!(
                "HTTP {status}: a redirect (to {}) is not followed; give the webhook's final URL",
                resp.headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("nowhere")
            ))),
            _ => Err(self.refuse(format!("HTTP {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_refused_unless_allowed() {
        let mut w = Webhook::new("http://127.0.0.1:9/hook");
        let e = w.deliver("k", &Value::Null).expect_err("refused");
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
        assert!(e.to_string().contains("private or loopback"), "{e}");
        // Allowed, it gets past the check to the (closed) port: a failure
        // worth retrying, not a refusal.
        w.allow_private.push("127.0.0.1".into());
        let e = w.deliver("k", &Value::Null).expect_err("nothing listens");
        assert!(
            matches!(
                e,
                Error::Delivery {
                    retryable: true,
                    ..
                }
            ),
            "{e}"
        );
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
