//! Where a webhook's request may land: never where a redirect points, and
//! only at the addresses that were checked (no second look-up between the
//! check and the connection).

use std::sync::{Arc, Mutex};

use ainima_agent::Error;
use ainima_agent::http::{Request, Response, Server};
use ainima_agent::net::{self, Guard, Reach};
use ainima_agent::webhook::Webhook;
use serde_json::json;

/// A receiver on loopback that keeps what it was sent.
fn receiver() -> (Server, Arc<Mutex<Vec<Request>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let server = Server::start("127.0.0.1:0", move |req| {
        s.lock().expect("lock").push(req.clone());
        Response::json(200, &json!({"ok": true}))
    })
    .expect("listens");
    (server, seen)
}

/// A receiver that answers every request with a redirect to `to`.
fn redirector(to: String) -> Server {
    Server::start("127.0.0.1:0", move |_| {
        let mut r = Response::json(307, &json!({}));
        r = r.with_header("Location", &to);
        r
    })
    .expect("listens")
}

/// Regression (review of 79c2283): ureq followed up to 10 redirects and the
/// target of a redirect was never checked, so a receiver the user allowed
/// could send the signed body, with its idempotency key, to another address
/// on the machine (or 169.254.169.254).
#[test]
fn a_webhook_redirect_is_not_followed() {
    let (inner, seen) = receiver();
    // The allowed receiver is 127.0.0.1; it redirects to "localhost", which
    // the user never allowed.
    let outer = redirector(format!("http://localhost:{}/steal", inner.addr().port()));
    let mut w = Webhook::new(&format!("{}/hook", outer.url()));
    w.secret = Some(b"k".to_vec());
    w.allow_private = vec!["127.0.0.1".into()];
    let e = w
        .deliver("key-1", &json!({"to": "mom"}))
        .expect_err("a redirect is refused");
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
    assert!(e.to_string().contains("redirect"), "{e}");
    assert!(
        seen.lock().expect("lock").is_empty(),
        "nothing reached the redirect's target"
    );
}

/// A resolver that answers every name with one address (a name whose DNS
/// answer changed between a check and a connection).
#[derive(Debug)]
struct Rebound(std::net::SocketAddr);

impl ureq::unversioned::resolver::Resolver for Rebound {
    fn resolve(
        &self,
        _uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let mut v = self.empty();
        v.push(self.0);
        Ok(v)
    }
}

/// Regression (review of 79c2283): the address checked was looked up
/// separately from the one connected to, so a name could resolve to a public
/// address for the check and to loopback for the connection. The guard
/// checks the very addresses the connection is made to.
#[test]
fn dns_rebinding_to_loopback_is_refused_at_the_connection() {
    let (inner, seen) = receiver();
    let agent = net::guarded(
        Guard::over(Reach::Public { allow: vec![] }, Rebound(inner.addr())),
        net::Options::default(),
    );
    let e = agent
        .post("http://hooks.example.com/hook")
        .send("{}")
        .expect_err("refused");
    assert!(net::refusal(&e).is_some(), "{e}");
    assert!(seen.lock().expect("lock").is_empty());
    // The same resolver for a host the user allowed: delivered.
    let agent = net::guarded(
        Guard::over(
            Reach::Public {
                allow: vec!["hooks.example.com".into()],
            },
            Rebound(inner.addr()),
        ),
        net::Options::default(),
    );
    let r = agent
        .post("http://hooks.example.com/hook")
        .send("{}")
        .expect("delivered");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(seen.lock().expect("lock").len(), 1);
}

/// A webhook whose name resolves to a private address is refused whatever
/// the form of the address (the ranges the review listed).
#[test]
fn private_forms_of_addresses_are_refused() {
    for host in [
        "[::ffff:127.0.0.1]",
        "[::127.0.0.1]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:7f00:1::]",
        "[fec0::1]",
        "0.0.0.0",
        "100.64.0.1",
        "198.18.0.1",
        "224.0.0.1",
        "240.0.0.1",
    ] {
        let w = Webhook::new(&format!("http://{host}:9/hook"));
        let e = w.deliver("k", &json!({})).expect_err("refused");
        assert!(
            matches!(
                e,
                Error::Delivery {
                    retryable: false,
                    ..
                }
            ),
            "{host}: {e}"
        );
    }
}
