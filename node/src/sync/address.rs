//! Which peer URLs and addresses a node may connect to (SSRF defence).
//!
//! Peer URLs come from admins but point anywhere, and a DNS name can resolve
//! to the node's own loopback or a private service (Synapse #3953, #5273,
//! #8870). The node therefore accepts only `http`/`https` URLs with a host,
//! resolves the host itself, checks **every** resolved address with
//! [`check_peer_address`], connects to a checked address, and follows no
//! redirects. Loopback is allowed only by explicit configuration (the demo and
//! tests), never by default. Pure functions over `std::net` types: resolution
//! and connection stay in the driver.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest host name of a peer URL (RFC 1035: 253 characters without the
/// final dot); longer names are refused without being resolved.
pub const HOST_NAME_CHARS_MAX: usize = 253;
/// Longest label (the part between dots) of a peer URL's host name.
pub const HOST_LABEL_CHARS_MAX: usize = 63;

/// What the configuration allows beyond public unicast addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// 127.0.0.0/8 and ::1 (demo and tests on one machine).
    pub allow_loopback: bool,
    /// RFC 1918, RFC 4193 unique-local and 100.64.0.0/10 (a private network
    /// of centres).
    pub allow_private: bool,
}

/// Why a peer URL or address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("peer url {0:?} is not an absolute http or https url with a host")]
    BadUrl(String),
    #[error("peer url must not carry a user name or password")]
    Credentials,
    #[error("peer host name is over {HOST_NAME_CHARS_MAX} characters or has a label over {HOST_LABEL_CHARS_MAX}")]
    HostNameTooLong,
    #[error("address {0} is a loopback address (allowed only by configuration)")]
    Loopback(IpAddr),
    #[error("address {0} is private (allowed only by configuration)")]
    Private(IpAddr),
    #[error("address {0} is link-local, unspecified, multicast, broadcast or reserved")]
    NotRoutable(IpAddr),
}

/// Checks the text of a peer URL (before resolution): http or https, a host
/// (a name within [`HOST_NAME_CHARS_MAX`] and [`HOST_LABEL_CHARS_MAX`]), no
/// credentials. Returns the URL normalised by the URL parser.
pub fn check_peer_url(text: &str) -> Result<url::Url, AddressError> {
    let url = url::Url::parse(text).map_err(|_| AddressError::BadUrl(text.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(AddressError::BadUrl(text.to_string()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AddressError::Credentials);
    }
    if let Some(url::Host::Domain(name)) = url.host() {
        let name = name.strip_suffix('.').unwrap_or(name);
        let too_long = name.len() > HOST_NAME_CHARS_MAX
            || name
                .split('.')
                .any(|label| label.len() > HOST_LABEL_CHARS_MAX);
        if too_long {
            return Err(AddressError::HostNameTooLong);
        }
    }
    Ok(url)
}

/// Checks one resolved address against the policy.
pub fn check_peer_address(address: IpAddr, policy: AddressPolicy) -> Result<(), AddressError> {
    // An IPv4 address written as IPv6 (::ffff:a.b.c.d) is judged as IPv4.
    let address = match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    match address {
        IpAddr::V4(v4) => check_v4(v4, policy),
        IpAddr::V6(v6) => check_v6(v6, policy),
    }
}

fn check_v4(v4: Ipv4Addr, policy: AddressPolicy) -> Result<(), AddressError> {
    let address = IpAddr::V4(v4);
    let octets = v4.octets();
    if v4.is_loopback() {
        return if policy.allow_loopback {
            Ok(())
        } else {
            Err(AddressError::Loopback(address))
        };
    }
    let shared_cgnat = octets[0] == 100 && (64..128).contains(&octets[1]);
    if v4.is_private() || shared_cgnat {
        return if policy.allow_private {
            Ok(())
        } else {
            Err(AddressError::Private(address))
        };
    }
    let this_network = octets[0] == 0;
    let reserved = octets[0] >= 240;
    let benchmarking = octets[0] == 198 && (18..20).contains(&octets[1]);
    let ietf_protocol = octets[0] == 192 && octets[1] == 0 && octets[2] == 0;
    if v4.is_unspecified()
        || this_network
        || v4.is_link_local()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_documentation()
        || reserved
        || benchmarking
        || ietf_protocol
    {
        return Err(AddressError::NotRoutable(address));
    }
    Ok(())
}

fn check_v6(v6: Ipv6Addr, policy: AddressPolicy) -> Result<(), AddressError> {
    let address = IpAddr::V6(v6);
    let segments = v6.segments();
    if v6.is_loopback() {
        return if policy.allow_loopback {
            Ok(())
        } else {
            Err(AddressError::Loopback(address))
        };
    }
    let unique_local = (segments[0] & 0xfe00) == 0xfc00;
    if unique_local {
        return if policy.allow_private {
            Ok(())
        } else {
            Err(AddressError::Private(address))
        };
    }
    let link_local = (segments[0] & 0xffc0) == 0xfe80;
    let site_local = (segments[0] & 0xffc0) == 0xfec0;
    let documentation = segments[0] == 0x2001 && segments[1] == 0x0db8;
    // ::a.b.c.d (deprecated IPv4-compatible), NAT64 and 6to4 embed IPv4
    // addresses that may be private: refused rather than decoded.
    let ipv4_compatible = segments[..6].iter().all(|s| *s == 0);
    let nat64 = segments[0] == 0x0064 && segments[1] == 0xff9b;
    let six_to_four = segments[0] == 0x2002;
    if v6.is_unspecified()
        || v6.is_multicast()
        || link_local
        || site_local
        || documentation
        || ipv4_compatible
        || nat64
        || six_to_four
    {
        return Err(AddressError::NotRoutable(address));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, policy: AddressPolicy) -> Result<(), AddressError> {
        check_peer_address(text.parse().unwrap(), policy)
    }

    const DEFAULT: AddressPolicy = AddressPolicy {
        allow_loopback: false,
        allow_private: false,
    };

    #[test]
    fn public_addresses_pass() {
        for text in ["93.184.216.34", "151.101.1.69", "2a00:1450:4001:80e::200e"] {
            assert_eq!(check(text, DEFAULT), Ok(()), "{text}");
        }
    }

    #[test]
    fn loopback_and_private_need_configuration() {
        for text in ["127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"] {
            assert!(
                matches!(check(text, DEFAULT), Err(AddressError::Loopback(_))),
                "{text}"
            );
            let allowed = AddressPolicy {
                allow_loopback: true,
                ..DEFAULT
            };
            assert_eq!(check(text, allowed), Ok(()), "{text}");
        }
        for text in [
            "10.1.2.3",
            "172.16.0.9",
            "192.168.1.1",
            "100.64.0.1",
            "fd12::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(
                matches!(check(text, DEFAULT), Err(AddressError::Private(_))),
                "{text}"
            );
            let allowed = AddressPolicy {
                allow_private: true,
                ..DEFAULT
            };
            assert_eq!(check(text, allowed), Ok(()), "{text}");
        }
    }

    #[test]
    fn never_routable_whatever_the_policy() {
        let everything = AddressPolicy {
            allow_loopback: true,
            allow_private: true,
        };
        for text in [
            "0.0.0.0",
            "0.1.2.3",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.10",
            "198.18.0.1",
            "::",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
        ] {
            assert!(
                matches!(check(text, everything), Err(AddressError::NotRoutable(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn host_names_over_the_dns_limits_are_refused_before_resolution() {
        let label = "a".repeat(HOST_LABEL_CHARS_MAX);
        let longest = [label.as_str(); 4].join(".") + ".example";
        assert!(longest.len() > HOST_NAME_CHARS_MAX);
        let fits = [label.as_str(); 3].join(".") + ".example";
        assert!(check_peer_url(&format!("https://{fits}/")).is_ok());
        assert!(check_peer_url(&format!("https://{fits}./")).is_ok());
        for bad in [
            format!("https://{longest}/"),
            format!("https://{}.example/", "b".repeat(HOST_LABEL_CHARS_MAX + 1)),
            format!("http://{}.example:8080", "c".repeat(300)),
        ] {
            assert_eq!(
                check_peer_url(&bad),
                Err(AddressError::HostNameTooLong),
                "{bad}"
            );
        }
    }

    #[test]
    fn urls_must_be_http_with_host_and_no_credentials() {
        assert!(check_peer_url("https://it.seed.example/").is_ok());
        assert!(check_peer_url("http://127.0.0.1:8080").is_ok());
        for bad in [
            "ftp://x.example",
            "file:///etc/passwd",
            "https://",
            "it.example",
            "unix:/run/x",
        ] {
            assert!(
                matches!(check_peer_url(bad), Err(AddressError::BadUrl(_))),
                "{bad}"
            );
        }
        assert_eq!(
            check_peer_url("https://admin:secret@it.example"),
            Err(AddressError::Credentials)
        );
    }
}
