//! Which addresses an outbound connection may reach, decided on the resolved address of every
//! connection (so a name that resolves somewhere else at connect time gains nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::http::{HostPattern, HttpGrant, canonical};

/// Where the host runs, which decides whether host-local addresses exist for a guest at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// On Lambda: loopback (the Runtime API, extensions) and link-local (credentials,
    /// metadata) are never reached, whatever the grants say.
    Lambda,
    /// `plugboard dev`, `plugboard invoke`, tests: a loopback or link-local address is reached
    /// when an IP or CIDR grant names it.
    Local,
}

/// What an address is, for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 169.254.0.0/16, fe80::/10 (the instance metadata and credentials endpoints live here).
    LinkLocal,
    /// RFC 1918, shared address space (100.64/10), unique local IPv6 (fc00::/7).
    Private,
    /// 0.0.0.0/8, ::, multicast, broadcast, reserved: never a destination.
    Unroutable,
    /// Everything else.
    Public,
}

/// Why a connection was refused before it opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} is a {class:?} address, which grant `{grant}` does not reach{note}")]
pub struct AddressRefused {
    /// The resolved address.
    pub address: IpAddr,
    /// What kind it is.
    pub class: AddressClass,
    /// The grant the request matched.
    pub grant: String,
    /// Why the grant is not enough, when that is not obvious.
    pub note: &'static str,
}

/// Classify `ip` (an IPv4-mapped IPv6 address as its IPv4 address).
pub fn classify(ip: IpAddr) -> AddressClass {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        AddressClass::Private
    } else if a == 0 || ip.is_multicast() || ip.is_broadcast() || a >= 240 || special_v4(ip) {
        AddressClass::Unroutable
    } else {
        AddressClass::Public
    }
}

/// IETF protocol assignments (192.0.0.0/24) and the benchmarking range (198.18.0.0/15).
fn special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    (a, b, c) == (192, 0, 0) || (a == 198 && (b & 0xfe) == 18)
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let [first, second, ..] = ip.segments();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if first & 0xffc0 == 0xfec0 || (first, second) == (0x2001, 0) {
        // Deprecated site-local (fec0::/10) and Teredo (2001::/32): never a destination.
        AddressClass::Unroutable
    } else if first & 0xfe00 == 0xfc00 {
        AddressClass::Private
    } else if ip.is_unspecified() || ip.is_multicast() {
        AddressClass::Unroutable
    } else if let Some(v4) = embedded_v4(ip) {
        // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) forms reach that address.
        match classify_v4(v4) {
            AddressClass::Public => AddressClass::Public,
            _ => AddressClass::Unroutable,
        }
    } else {
        AddressClass::Public
    }
}

/// The IPv4 address inside an IPv4-compatible (`::a.b.c.d`), SIIT (`::ffff:0:a.b.c.d`),
/// NAT64 (`64:ff9b::/96`, the local-use `64:ff9b:1::/48`) or 6to4 (`2002:aabb:ccdd::`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let octets = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    let zero = |range: std::ops::Range<usize>| s[range].iter().all(|x| *x == 0);
    if s[0] == 0x2002 {
        return Some(octets(s[1], s[2]));
    }
    let compatible = zero(0..6);
    let siit = zero(0..4) && s[4] == 0xffff && s[5] == 0;
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && (zero(2..6) || s[2] == 1);
    (compatible || siit || nat64).then(|| octets(s[6], s[7]))
}

/// Whether a connection under `grant` may go to `address` on `network`.
pub fn vet(network: Network, grant: &HttpGrant, address: IpAddr) -> Result<(), AddressRefused> {
    let class = classify(address);
    let named = matches!(&grant.host, HostPattern::Addresses(net) if net.contains(&canonical(address)));
    let refuse = |note: &'static str| Err(AddressRefused { address, class, grant: grant.to_string(), note });
    match class {
        AddressClass::Public => Ok(()),
        AddressClass::Unroutable => refuse(""),
        AddressClass::Loopback | AddressClass::LinkLocal if network == Network::Lambda => {
            refuse(" (on Lambda no grant reaches loopback or link-local addresses)")
        }
        AddressClass::Loopback | AddressClass::LinkLocal if named => Ok(()),
        AddressClass::Loopback | AddressClass::LinkLocal => {
            refuse(" (a host-local address is reached only by a grant naming it as an IP or CIDR)")
        }
        AddressClass::Private if named || grant.private => Ok(()),
        AddressClass::Private => refuse(" (add ` private` to a name grant that must reach private addresses)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(network: Network, grant: &str, address: &str) -> Result<(), AddressRefused> {
        vet(network, &grant.parse().unwrap(), address.parse().unwrap())
    }

    #[test]
    fn addresses_are_classified_in_every_form() {
        for (address, class) in [
            ("127.0.0.1", AddressClass::Loopback),
            ("127.8.9.1", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("::ffff:169.254.169.254", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("10.0.0.1", AddressClass::Private),
            ("172.16.5.4", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("fd00::1", AddressClass::Private),
            ("0.0.0.0", AddressClass::Unroutable),
            ("::", AddressClass::Unroutable),
            ("224.0.0.1", AddressClass::Unroutable),
            ("255.255.255.255", AddressClass::Unroutable),
            ("ff02::1", AddressClass::Unroutable),
            ("::127.0.0.1", AddressClass::Unroutable),
            ("64:ff9b::a9fe:a9fe", AddressClass::Unroutable),
            ("64:ff9b::5db8:d822", AddressClass::Public),
            ("64:ff9b:1::a00:1", AddressClass::Unroutable),
            ("2002:7f00:1::", AddressClass::Unroutable),
            ("2002:a9fe:a9fe::1", AddressClass::Unroutable),
            ("2002:5db8:d822::1", AddressClass::Public),
            ("::ffff:0:7f00:1", AddressClass::Unroutable),
            ("fec0::1", AddressClass::Unroutable),
            ("2001:0:4136:e378::1", AddressClass::Unroutable),
            ("192.0.0.8", AddressClass::Unroutable),
            ("198.18.0.1", AddressClass::Unroutable),
            ("93.184.216.34", AddressClass::Public),
            ("2606:4700::1111", AddressClass::Public),
        ] {
            assert_eq!(classify(address.parse().unwrap()), class, "{address}");
        }
    }

    #[test]
    fn on_lambda_no_grant_reaches_loopback_or_link_local() {
        for grant in ["https://api.example.com", "http://127.0.0.1:80", "http://169.254.169.254", "http://0.0.0.0/0"] {
            for address in ["127.0.0.1", "::ffff:127.0.0.1", "::1", "169.254.169.254", "fe80::1"] {
                assert!(check(Network::Lambda, grant, address).is_err(), "{grant} reached {address}");
            }
        }
    }

    #[test]
    fn locally_loopback_needs_a_grant_naming_it() {
        assert!(check(Network::Local, "http://127.0.0.1:80", "127.0.0.1").is_ok());
        assert!(check(Network::Local, "http://127.0.0.1:80", "::ffff:127.0.0.1").is_ok());
        assert!(check(Network::Local, "http://localhost:80", "127.0.0.1").is_err());
        assert!(check(Network::Local, "https://api.example.com", "127.0.0.1").is_err());
    }

    #[test]
    fn private_addresses_are_opt_in_per_grant() {
        assert!(check(Network::Lambda, "https://api.example.com", "10.0.0.1").is_err());
        assert!(check(Network::Lambda, "https://*.example.com", "192.168.0.1").is_err());
        assert!(check(Network::Lambda, "http://orders.internal private", "10.0.0.1").is_ok());
        assert!(check(Network::Lambda, "http://10.0.0.0/16", "10.0.3.1").is_ok());
        assert!(check(Network::Lambda, "http://orders.internal private", "0.0.0.0").is_err());
        assert!(check(Network::Lambda, "https://api.example.com", "93.184.216.34").is_ok());
    }
}
