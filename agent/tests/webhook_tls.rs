//! Webhooks over real TLS (rustls on both ends) on loopback: a receiver with
//! a certificate from a private authority the test makes; trusted through
//! `Webhook::roots_pem`, refused without it.

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc;

use ainima_agent::Error;
use ainima_agent::http::{Response, read_request, write_response};
use ainima_agent::webhook::{Webhook, verify};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

const SECRET: &[u8] = b"tls secret";

/// A private authority and a `localhost` certificate it signed: (CA PEM,
/// leaf DER, leaf key DER).
fn authority() -> (String, Vec<u8>, Vec<u8>) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");
    (ca_cert.pem(), leaf.der().to_vec(), leaf_key.serialize_der())
}

/// A TLS receiver on loopback for `n` connections; each request's
/// (idempotency key, body, signature valid) comes out of the channel.
fn receiver(
    leaf: Vec<u8>,
    key: Vec<u8>,
    n: usize,
) -> (u16, mpsc::Receiver<(String, serde_json::Value, bool)>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .expect("server certificate");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = listener.local_addr().expect("address").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(tcp) = stream else { continue };
            let conn = rustls::ServerConnection::new(config.clone()).expect("TLS session");
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            // A client that refuses the certificate ends the handshake here.
            let Ok(req) = read_request(&mut tls) else {
                continue;
            };
            let valid = verify(SECRET, &req.body, req.header("x-ainima-signature"));
            let key = req
                .header("idempotency-key")
                .unwrap_or_default()
                .to_string();
            let body = serde_json::from_slice(&req.body).unwrap_or_default();
            let _ = tx.send((key, body, valid));
            let _ = write_response(&mut tls, &Response::json(200, &json!({"ok": true})));
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, rx)
}

fn hook(port: u16) -> Webhook {
    let mut w = Webhook::new(&format!("https://localhost:{port}/hook"));
    w.secret = Some(SECRET.to_vec());
    w.allow_private.push("localhost".into());
    w
}

#[test]
fn a_signed_webhook_arrives_over_tls_from_a_trusted_authority() {
    let (ca, leaf, key) = authority();
    let (port, seen) = receiver(leaf, key, 1);
    let mut w = hook(port);
    w.roots_pem = ca.into_bytes();
    let body = json!({"tool": "message.send", "args": {"to": "Mom", "text": "I'm late"}});
    assert_eq!(w.deliver("key-1", &body).expect("delivered"), 200);
    let (k, got, valid) = seen.recv().expect("the receiver saw it");
    assert_eq!((k.as_str(), &got, valid), ("key-1", &body, true));
}

#[test]
fn an_untrusted_certificate_is_refused_and_nothing_is_sent() {
    let (_ca, leaf, key) = authority();
    let (port, seen) = receiver(leaf, key, 2);
    // The public roots do not know the private authority.
    let e = hook(port)
        .deliver("key-2", &json!({}))
        .expect_err("refused");
    assert!(matches!(e, Error::Delivery { .. }), "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // Nor does another authority.
    let (other_ca, _, _) = authority();
    let mut w = hook(port);
    w.roots_pem = other_ca.into_bytes();
    assert!(w.deliver("key-3", &json!({})).is_err());
    assert!(
        seen.try_recv().is_err(),
        "no request may reach the receiver"
    );
}

#[test]
fn roots_that_are_not_certificates_are_a_clear_error() {
    let mut w = hook(9);
    w.roots_pem = b"not a certificate".to_vec();
    let e = w.deliver("k", &json!({})).expect_err("refused");
    assert!(e.to_string().contains("trusted roots"), "{e}");
}
