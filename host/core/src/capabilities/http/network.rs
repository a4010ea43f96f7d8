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
    } else if a == 0 || ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        AddressClass::Unroutable
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
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

/// The IPv4 address inside an IPv4-compatible or NAT64 IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let compatible = s[..6].iter().all(|x| *x == 0);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0);
    (compatible || nat64).then(v4)
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
