//! Who may reach the server: the listen address (`KEEPSAKE_BIND`) and the browser origins
//! CORS lets in (`KEEPSAKE_CORS_ORIGINS`), parsed and checked.

use std::net::SocketAddr;

use super::ConfigError;

/// The origins whose pages may call the API from a browser: the answer to CORS. Bearer
/// tokens travel in `Authorization`, never in cookies, so no credentials are ever allowed
/// and `*` is as safe as a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers at all: browsers keep other origins' pages out (the default).
    #[default]
    None,
    /// `*`: any origin.
    Any,
    /// These exact origins, as browsers write them: lower case, without a default port.
    List(Vec<String>),
}

impl CorsOrigins {
    /// Reads `KEEPSAKE_CORS_ORIGINS`: comma-separated origins (`scheme://host[:port]`, no
    /// path), or `*` alone; empty means none.
    pub fn parse(value: &str) -> Result<CorsOrigins, ConfigError> {
        let problem = |problem: String| ConfigError {
            setting: "KEEPSAKE_CORS_ORIGINS (--cors-origins)",
            problem,
        };
        if value.trim().is_empty() {
            return Ok(CorsOrigins::None);
        }
        if value.trim() == "*" {
            return Ok(CorsOrigins::Any);
        }
        let mut origins = Vec::new();
        for entry in value.split(',').map(str::trim) {
            let origin = match entry {
                "" => return Err(problem(format!("'{value}' has an empty entry; separate origins with single commas"))),
                "*" => return Err(problem("'*' (any origin) must stand alone, not in a list".into())),
                entry => normalize_origin(entry).map_err(|why| {
                    problem(format!("'{entry}' is not an origin: {why}; write it like https://app.example.com or http://localhost:5173"))
                })?,
            };
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(CorsOrigins::List(origins))
    }

    /// Whether a request's `Origin` header names an allowed origin.
    pub fn allows(&self, origin: &[u8]) -> bool {
        match self {
            CorsOrigins::None => false,
            CorsOrigins::Any => true,
            CorsOrigins::List(origins) => {
                origins.iter().any(|allowed| allowed.as_bytes() == origin)
            }
        }
    }
}

/// `scheme://host[:port]` in the form browsers send in `Origin`: lower case, the default port
/// of http and https left out.
fn normalize_origin(entry: &str) -> Result<String, &'static str> {
    let entry = entry.to_ascii_lowercase();
    let (scheme, authority) = entry.split_once("://").ok_or("no scheme")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if !scheme_ok {
        return Err("the scheme is not valid");
    }
    if authority.contains(['/', '?', '#']) {
        return Err("an origin has no path, query or trailing slash");
    }
    if authority.contains('@') {
        return Err("an origin has no user name or password");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(ipv6) => {
            let (address, rest) = ipv6
                .split_once(']')
                .ok_or("an IPv6 address needs its ']'")?;
            let address: std::net::Ipv6Addr = address
                .parse()
                .map_err(|_| "the IPv6 address is not valid")?;
            let port = match rest {
                "" => None,
                rest => Some(
                    rest.strip_prefix(':')
                        .ok_or("junk after the IPv6 address")?,
                ),
            };
            (format!("[{address}]"), port)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let labels_ok = host.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
            if !labels_ok {
                return Err("the host name is not valid");
            }
            (host.to_owned(), port)
        }
    };
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(number) if number > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Some(number),
            _ => return Err("the port is not a number from 1 to 65535"),
        },
    };
    Ok(match (scheme, port) {
        ("http", Some(80)) | ("https", Some(443)) | (_, None) => format!("{scheme}://{host}"),
        (_, Some(port)) => format!("{scheme}://{host}:{port}"),
    })
}

/// A listen address: `HOST:PORT` with an IP host, `localhost:PORT`, or `:PORT` alone, which
/// means 127.0.0.1 (this host only: exposing the server is a deliberate `0.0.0.0:PORT`).
pub fn parse_bind(text: &str) -> Result<SocketAddr, ConfigError> {
    let text = text.trim();
    let loopback = text
        .strip_prefix(':')
        .or_else(|| text.strip_prefix("localhost:"));
    let parsed = match loopback {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|_| port.bytes().all(|b| b.is_ascii_digit()))
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port))),
        None => text.parse().ok(),
    };
    parsed.ok_or_else(|| ConfigError {
        setting: "KEEPSAKE_BIND (--bind)",
        problem: format!(
            "'{text}' is not a listen address; write it like 127.0.0.1:8000, :8000 (this host), \
             0.0.0.0:8000 (every interface) or :0 (a free port)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_checked_and_written_as_browsers_send_them() {
        let list = |value: &str| match CorsOrigins::parse(value) {
            Ok(CorsOrigins::List(origins)) => Ok(origins),
            Ok(other) => panic!("{value}: {other:?}"),
            Err(err) => Err(err.to_string()),
        };
        assert_eq!(CorsOrigins::parse("").unwrap(), CorsOrigins::None);
        assert_eq!(CorsOrigins::parse(" * ").unwrap(), CorsOrigins::Any);
        assert_eq!(
            list("https://App.Example.com, http://localhost:5173,https://app.example.com:443")
                .unwrap(),
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert_eq!(list("http://[::1]:8080").unwrap(), ["http://[::1]:8080"]);
        assert_eq!(
            list("capacitor://localhost").unwrap(),
            ["capacitor://localhost"]
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/app",
            "https://app.example.com?x=1",
            "https://user@app.example.com",
            "https://app.example.com:0",
            "https://app.example.com:+80",
            "https://app.example.com:99999",
            "https://",
            "https://a..b",
            "http://[::1",
            "https://a.example,,https://b.example",
            "https://a.example,*",
            "null",
        ] {
            let err = list(bad).unwrap_err();
            assert!(
                err.starts_with("KEEPSAKE_CORS_ORIGINS (--cors-origins): "),
                "{err}"
            );
        }
        let origins = CorsOrigins::parse("https://app.example.com").unwrap();
        assert!(origins.allows(b"https://app.example.com"));
        assert!(!origins.allows(b"https://app.example.com.evil.example"));
        assert!(!origins.allows(b"http://app.example.com"));
        assert!(CorsOrigins::Any.allows(b"https://anywhere.example"));
        assert!(!CorsOrigins::None.allows(b"https://app.example.com"));
    }

    #[test]
    fn a_port_alone_listens_on_this_host() {
        assert_eq!(
            parse_bind(":0").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 0))
        );
        assert_eq!(
            parse_bind(":8000").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 8000))
        );
        assert_eq!(
            parse_bind("localhost:9000").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 9000))
        );
        assert_eq!(
            parse_bind("0.0.0.0:80").unwrap(),
            SocketAddr::from(([0, 0, 0, 0], 80))
        );
        assert_eq!(parse_bind("[::1]:80").unwrap().port(), 80);
        for bad in ["localhost", ":", ":+1", ":99999", "8000", "garbage"] {
            let err = parse_bind(bad).unwrap_err().to_string();
            assert!(err.starts_with("KEEPSAKE_BIND (--bind): "), "{err}");
        }
    }
}
