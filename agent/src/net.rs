//! Outgoing HTTP that lands where it was checked: every request the agent
//! (and the model store) makes goes through an agent whose resolver checks
//! the addresses a name resolves to and hands the connector exactly those,
//! so the address checked is the address connected to (no DNS rebinding);
//! redirects are not followed (a caller that wants one checks and follows
//! it itself); no proxy from the environment is used.
//!
//! [`Reach`] says where a request may go: public addresses only (with the
//! hosts the user named allowed although private), or loopback only (the
//! local endpoint's app callbacks). [`parse`] is the one URL check: `http`
//! or `https`, a host, no user information (`http://127.0.0.1:@evil/` names
//! the host `evil`, not loopback).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Whether an IPv4 address is not a public unicast address: loopback,
/// private (RFC 1918), shared (carrier-grade NAT, 100.64/10), link-local,
/// "this network" (0/8), IETF protocol assignments (192.0.0/24),
/// documentation (192.0.2/24, 198.51.100/24, 203.0.113/24), benchmarking
/// (198.18/15), 6to4 relay anycast (192.88.99/24), multicast, reserved
/// (240/4) and broadcast.
fn is_private_v4(v: Ipv4Addr) -> bool {
    let [a, b, c, _] = v.octets();
    v.is_loopback()
        || v.is_private()
        || v.is_link_local()
        || v.is_multicast()
        || v.is_broadcast()
        || a == 0
        || a >= 240
        || (a == 100 && (b & 0xC0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && (b & 0xFE) == 18)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (a == 192 && b == 88 && c == 99)
}

/// Whether an IPv6 address is not a public unicast address. Mapped
/// `::ffff:a.b.c.d` addresses are judged by the IPv4 address inside;
/// everything outside global unicast `2000::/3` is refused (loopback,
/// unspecified, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, discard,
/// unique and link local, site local, multicast), and inside it the
/// reserved blocks: documentation (`2001:db8::/32`, `3fff::/20`), IETF
/// protocol assignments and Teredo (`2001::/23`), and 6to4 (`2002::/16`),
/// whose destination depends on a relay.
fn is_private_v6(v: Ipv6Addr) -> bool {
    if let Some(m) = v.to_ipv4_mapped() {
        return is_private_v4(m);
    }
    let s = v.segments();
    (s[0] & 0xE000) != 0x2000
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x3fff && s[1] < 0x1000)
        || (s[0] == 0x2001 && s[1] < 0x0200)
        || s[0] == 0x2002
}

/// Whether an address is not on the public internet.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => is_private_v4(v),
        IpAddr::V6(v) => is_private_v6(v),
    }
}

/// Where requests may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses; the hosts listed (as the URL names them) may
    /// resolve to private or loopback ones (a local service the user chose).
    Public {
        /// Hosts allowed although private.
        allow: Vec<String>,
    },
    /// Loopback addresses only.
    Loopback,
}

/// A URL's parts, after [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: String,
    /// The host as written (an IPv6 address without brackets).
    pub host: String,
    /// The port (the scheme's default when none is written).
    pub port: u16,
}

/// Parses an `http` or `https` URL with a host and no user information.
pub fn parse(url: &str) -> Result<Target, String> {
    let uri: Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err("not an http:// or https:// URL".into()),
    };
    let authority = uri.authority().ok_or("the URL has no host")?;
    if authority.as_str().contains('@') {
        return Err("the URL carries user information (user@host), which is refused".into());
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    Ok(Target {
        scheme,
        host: host.to_ascii_lowercase(),
        port: authority.port_u16().unwrap_or(default),
    })
}

/// A request refused for where it would go.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Whether a ureq error is a refusal by [`Reach`] (never worth a retry);
/// its message if so.
pub fn refusal(e: &ureq::Error) -> Option<String> {
    match e {
        ureq::Error::Other(inner) => inner.downcast_ref::<Refused>().map(|r| r.0.clone()),
        _ => None,
    }
}

/// Checks resolved addresses against `reach`: what [`Guard`] does for every
/// connection.
pub fn check(reach: &Reach, host: &str, addrs: &[IpAddr]) -> Result<(), String> {
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    match reach {
        Reach::Loopback => match addrs.iter().find(|a| !a.is_loopback()) {
            Some(a) => Err(format!("{host} is not on loopback ({a})")),
            None => Ok(()),
        },
        Reach::Public { allow } => {
            if allow.iter().any(|h| h.eq_ignore_ascii_case(host)) {
                return Ok(());
            }
            match addrs.iter().find(|a| is_private(**a)) {
                Some(a) => Err(format!(
                    "{host} is a private or loopback address ({a}); allow it explicitly"
                )),
                None => Ok(()),
            }
        }
    }
}

/// The resolver of a guarded agent: resolves as ureq does (with its
/// timeout), then checks the addresses against the reach; the connector
/// gets exactly the addresses checked.
#[derive(Debug)]
pub struct Guard<R: Resolver = DefaultResolver> {
    reach: Reach,
    inner: R,
}

impl<R: Resolver> Guard<R> {
    /// A guard over another resolver (tests give one of their own).
    pub fn over(reach: Reach, inner: R) -> Guard<R> {
        Guard { reach, inner }
    }
}

impl<R: Resolver> Resolver for Guard<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(ureq::Error::Other(Box::new(Refused(format!(
                "{uri}: user information in a URL is refused"
            )))));
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let ips: Vec<IpAddr> = addrs.iter().map(|a| a.ip()).collect();
        check(&self.reach, &host, &ips).map_err(|m| ureq::Error::Other(Box::new(Refused(m))))?;
        Ok(addrs)
    }
}

/// Options of a guarded agent beyond where it may go.
#[derive(Debug, Clone)]
pub struct Options {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// TLS settings (the public roots by default).
    pub tls: Option<ureq::tls::TlsConfig>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(10),
            tls: None,
        }
    }
}

fn config(options: Options) -> Config {
    let mut b = ureq::Agent::config_builder()
        .timeout_global(Some(options.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None);
    if let Some(tls) = options.tls {
        b = b.tls_config(tls);
    }
    b.build()
}

/// An agent that goes only where `reach` allows, follows no redirect and
/// answers every status as a response (the caller judges it).
pub fn agent(reach: Reach, options: Options) -> ureq::Agent {
    guarded(Guard::over(reach, DefaultResolver::default()), options)
}

/// [`agent`] with a resolver of the caller's (tests).
pub fn guarded<R: Resolver>(guard: Guard<R>, options: Options) -> ureq::Agent {
    ureq::Agent::with_parts(config(options), DefaultConnector::new(), guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_private(addr: &str, expect: bool) {
        let ip: IpAddr = addr.parse().expect("an address");
        assert_eq!(is_private(ip), expect, "{addr}");
    }

    #[test]
    fn private_and_reserved_ranges_are_refused() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "2002:7f00:1::1",
            "2001:db8::1",
            "::ffff:0:7f00:1",
            "3fff::1",
            "4000::1",
        ] {
            check_private(a, true);
        }
        for a in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
        ] {
            check_private(a, false);
        }
    }

    #[test]
    fn urls_are_parsed_not_prefix_matched() {
        let t = parse("http://127.0.0.1:8080/rpc").expect("a URL");
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        assert_eq!(parse("https://[::1]/x").expect("a URL").host, "::1");
        assert_eq!(parse("https://Example.COM/x").expect("a URL").port, 443);
        for bad in [
            "http://127.0.0.1:@evil.example/rpc",
            "http://user:pw@127.0.0.1/",
            "ftp://127.0.0.1/",
            "127.0.0.1:80",
            "http:///x",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reach_decides_by_every_address() {
        let lo: IpAddr = "127.0.0.1".parse().expect("an address");
        let public: IpAddr = "93.184.216.34".parse().expect("an address");
        assert!(check(&Reach::Loopback, "localhost", &[lo]).is_ok());
        assert!(check(&Reach::Loopback, "x", &[lo, public]).is_err());
        assert!(check(&Reach::Loopback, "x", &[]).is_err());
        let open = Reach::Public { allow: vec![] };
        assert!(check(&open, "x", &[public]).is_ok());
        assert!(check(&open, "x", &[public, lo]).is_err());
        let allowed = Reach::Public {
            allow: vec!["Printer.local".into()],
        };
        assert!(check(&allowed, "printer.local", &[lo]).is_ok());
    }
}
