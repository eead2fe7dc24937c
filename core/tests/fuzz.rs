//! Every public entry point under random input (proptest): ids, numbers,
//! quota notation, option names and values, web rules and client-address
//! parsing. No input panics; every rejection is the documented kind
//! (`InvalidArgument`, or `Config` for a limiter's options); what is
//! accepted behaves (a parsed quota prints back to itself).
//!
//! Cases per property: `PROPTEST_CASES` (default 2048 here). On `memory://`
//! only — the URL fuzzing stays off the network (no random host is ever
//! resolved or contacted).

use proptest::prelude::*;
use ratewarden::blocking::Limiter;
use ratewarden::http::{ClientIp, ProxyHeader, Rule};
use ratewarden::{Algorithm, ErrorKind, Quota, Quotas, OPTIONS};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Numbers where the edges are: 0, 1, the limits, and their neighbours.
fn edgy_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(2),
        Just(127),
        Just(128),
        Just(ratewarden::MAX_LIMIT),
        Just(ratewarden::MAX_LIMIT + 1),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(1u64 << 53),
        0u64..2000,
        any::<u64>(),
    ]
}

/// Ids: empty, long, unicode, control characters, NULs.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9/._:-]{1,40}",
        ".{0,80}",
        "\\PC{300,600}",
        "[\\x00-\\x1f]{1,8}",
    ]
}

/// Quota notation: random text, and near-misses of the real grammar.
fn notation() -> impl Strategy<Value = String> {
    let unit = prop_oneof![
        Just(""),
        Just("us"),
        Just("ms"),
        Just("s"),
        Just("sec"),
        Just("second"),
        Just("seconds"),
        Just("m"),
        Just("minute"),
        Just("hour"),
        Just("h"),
        Just("day"),
        Just("days"),
        Just("week"),
        Just("year"),
        Just("fortnight"),
        Just("µs"),
    ];
    let one = (
        "[0-9]{0,21}",
        prop_oneof![Just("/"), Just(" per "), Just("per"), Just("//"), Just("")],
        "[0-9]{0,12}",
        prop_oneof![Just(""), Just(" "), Just("  ")],
        unit,
    )
        .prop_map(|(n, sep, k, sp, u)| format!("{n}{sep}{k}{sp}{u}"));
    prop_oneof![
        ".{0,40}",
        one.clone(),
        prop::collection::vec(one, 1..5).prop_map(|v| v.join(";")),
        prop::collection::vec("[0-9]{1,4}/[a-z]{0,7}", 0..12).prop_map(|v| v.join(", ")),
    ]
}

fn rejected_as(e: &ratewarden::Error, kinds: &[ErrorKind]) -> bool {
    kinds.contains(&e.kind())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn quota_notation_is_parsed_or_rejected_never_panics(text in notation()) {
        match Quota::parse(&text) {
            Ok(q) => {
                prop_assert!(q.validate().is_ok(), "{text:?} parsed to an invalid {q:?}");
                let again = Quota::parse(&q.to_string());
                prop_assert_eq!(again.ok(), Some(q), "{:?} does not print back", text);
            }
            Err(e) => prop_assert!(rejected_as(&e, &[ErrorKind::InvalidArgument]), "{text:?}: {e}"),
        }
        match Quotas::parse(&text) {
            Ok(qs) => prop_assert_eq!(Quotas::parse(&qs.to_string()).ok(), Some(qs)),
            Err(e) => prop_assert!(rejected_as(&e, &[ErrorKind::InvalidArgument]), "{text:?}: {e}"),
        }
    }

    #[test]
    fn checks_take_any_ids_and_numbers(
        client in id(),
        endpoint in id(),
        capacity in edgy_u64(),
        rate in edgy_u64(),
        cost in edgy_u64(),
        alg in 0usize..Algorithm::ALL.len(),
    ) {
        let l = limiter();
        let alg = Algorithm::ALL[alg];
        let q = Quota::new(capacity, rate);
        for r in [
            l.check_with(&client, &endpoint, q, cost, alg),
            l.peek(&client, &endpoint, q),
            l.refund(&client, &endpoint, q, cost),
        ] {
            if let Err(e) = r {
                prop_assert!(rejected_as(&e, &[ErrorKind::InvalidArgument]), "{e}");
            }
        }
        if let Err(e) = l.reset(&client, &endpoint) {
            prop_assert!(rejected_as(&e, &[ErrorKind::InvalidArgument]), "{e}");
        }
    }

    #[test]
    fn notation_checks_never_panic(client in id(), text in notation(), cost in edgy_u64()) {
        if let Err(e) = limiter().check(&client, "/fuzz", text.as_str(), cost) {
            prop_assert!(rejected_as(&e, &[ErrorKind::InvalidArgument]), "{text:?}: {e}");
        }
    }

    #[test]
    fn options_by_name_take_any_value(
        which in 0usize..OPTIONS.len() + 1,
        odd_name in "[a-z_]{0,20}",
        text in ".{0,30}",
        number in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), Just(0.0), Just(1e300)],
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let name = OPTIONS.get(which).map_or(odd_name.as_str(), |o| o.name);
        let values: [ratewarden::OptionValue; 3] = [text.as_str().into(), number.into(), bytes.into()];
        for v in values {
            match Limiter::builder("memory://fuzz-options").option(name, v) {
                Ok(b) => {
                    if let Err(e) = b.build() {
                        prop_assert!(rejected_as(&e, &[ErrorKind::InvalidArgument, ErrorKind::Config]), "{name}: {e}");
                    }
                }
                Err(e) => prop_assert!(rejected_as(&e, &[ErrorKind::InvalidArgument, ErrorKind::Config]), "{name}: {e}"),
            }
        }
    }

    #[test]
    fn web_rules_and_client_addresses_never_panic(
        quota in notation(),
        headers in prop_oneof![".{0,20}", Just("draft-11,draft-06,x-ratelimit".to_owned()), Just("none".to_owned())],
        trusted in prop::collection::vec(prop_oneof![".{0,20}", "[0-9.]{1,18}(/[0-9]{1,3})?", Just("loopback".to_owned()), Just("private".to_owned())], 0..4),
        prefix in any::<u8>(),
        forwarded_rfc in any::<bool>(),
        peer in prop_oneof![".{0,45}", "[0-9a-f:.]{1,45}", Just("::ffff:10.0.0.1".to_owned())],
        forwarded in prop::option::of(prop_oneof![".{0,80}", "((for=)?\"?\\[?[0-9a-f:.]{0,40}\\]?(:[0-9]{1,5})?\"?[,;] ?){0,5}"]),
    ) {
        if let Err(e) = Rule::new(quota.as_str(), &headers) {
            prop_assert!(rejected_as(&e, &[ErrorKind::InvalidArgument]), "{quota:?} {headers:?}: {e}");
        }
        let trusted: Vec<&str> = trusted.iter().map(String::as_str).collect();
        let header = if forwarded_rfc { ProxyHeader::Forwarded } else { ProxyHeader::XForwardedFor };
        match ClientIp::new(&trusted, header, prefix) {
            Ok(c) => {
                let _ = c.key(&peer, forwarded.as_deref());
            }
            Err(e) => prop_assert!(rejected_as(&e, &[ErrorKind::InvalidArgument]), "{trusted:?}/{prefix}: {e}"),
        }
    }
}

fn limiter() -> Limiter {
    use std::sync::OnceLock;
    static L: OnceLock<Limiter> = OnceLock::new();
    L.get_or_init(|| Limiter::connect("memory://fuzz").expect("memory limiter"))
        .clone()
}

/// URLs: any text after the schemes the library knows, with the host fixed
/// to a closed loopback port or absent — parsed or rejected, never a panic.
#[test]
fn urls_are_parsed_or_rejected() {
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let strategy = (
        prop_oneof![
            Just("redis://"),
            Just("rediss://"),
            Just("redis+cluster://"),
            Just("redis+sentinel://"),
            Just("memory://"),
            Just("http://"),
            Just(""),
            Just("redis:"),
        ],
        "[a-zA-Z0-9%:_-]{0,12}",
        prop_oneof![
            Just("127.0.0.1:1"),
            Just("[::1]:1"),
            Just(""),
            Just("127.0.0.1:99999"),
            Just("127.0.0.1:")
        ],
        "[/?#a-z0-9=&,]{0,24}",
    );
    runner
        .run(&strategy, |(scheme, user, host, rest)| {
            // No '@' in the user part: the host stays the one chosen.
            let url = if user.is_empty() {
                format!("{scheme}{host}{rest}")
            } else {
                format!("{scheme}{user}@{host}{rest}")
            };
            if !(url.starts_with("memory://") || url.contains("127.0.0.1") || url.contains("[::1]")) {
                // Nothing that could name another host.
                if let Err(e) = Limiter::builder(&url).build() {
                    prop_assert!(
                        rejected_as(&e, &[ErrorKind::InvalidArgument, ErrorKind::Config]),
                        "{url}: {e}"
                    );
                }
                return Ok(());
            }
            match Limiter::builder(&url)
                .timeout(std::time::Duration::from_millis(50))
                .build()
            {
                Ok(_) | Err(_) => Ok(()),
            }
        })
        .unwrap();
}
