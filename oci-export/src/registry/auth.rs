//! Registry authentication as registries and their token services expect it: the
//! `WWW-Authenticate` challenge list (parsed by the `http-auth` crate, so a quoted
//! `scope="repository:x:pull,push"` keeps its comma), the scopes a request needs, bearer
//! tokens cached per scope with their expiry (`expires_in`, 60 s when absent, from
//! `issued_at` when given), and `Retry-After`.
//!
//! `http-auth` is used for the parsing only: it is a maintained RFC 7235 parser (challenge
//! lists with several schemes, quoted strings with commas and escapes, token68 refused
//! cleanly), small and without network code. `oci-client`'s client would bring its own
//! reqwest client, its own push flow and a single token per client operation, when this
//! client streams blob bodies from the mapped ISO, mounts across repositories and needs a
//! token per repository.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::credentials::Secret;

/// A challenge of a `WWW-Authenticate` answer that this client can answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic`: send the credentials.
    Basic,
    /// `Bearer`: get a token from `realm`.
    Bearer {
        /// The token service URL.
        realm: String,
        /// `service` to ask the token for.
        service: Option<String>,
        /// The scope the registry asked for (may hold several, space-separated).
        scope: Option<String>,
    },
}

/// The challenges of `WWW-Authenticate` values that this client can answer, Bearer before
/// Basic; an error names a header that does not parse.
pub fn parse_challenges<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Challenge>, String> {
    let mut out = Vec::new();
    for v in values {
        let parsed = http_auth::parse_challenges(v)
            .map_err(|e| format!("unreadable WWW-Authenticate header ({e})"))?;
        for c in parsed {
            let param = |name: &str| {
                c.params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            if c.scheme.eq_ignore_ascii_case("bearer") {
                if let Some(realm) = param("realm") {
                    out.push(Challenge::Bearer {
                        realm,
                        service: param("service"),
                        scope: param("scope"),
                    });
                }
            } else if c.scheme.eq_ignore_ascii_case("basic") {
                out.push(Challenge::Basic);
            }
        }
    }
    out.sort_by_key(|c| matches!(c, Challenge::Basic));
    Ok(out)
}

/// The access a request needs: per resource (`repository:<name>`, `registry:catalog`) its
/// actions. Kept sorted, so that equal scopes have one key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(BTreeMap<String, BTreeSet<String>>);

impl Scope {
    /// `repository:<repo>:<actions>`.
    pub fn repository(repo: &str, actions: &[&str]) -> Scope {
        Scope::default().with(&format!("repository:{repo}"), actions)
    }

    /// `registry:catalog:*`.
    pub fn catalog() -> Scope {
        Scope::default().with("registry:catalog", &["*"])
    }

    /// This scope and `actions` on `resource` (`type:name`).
    pub fn with(mut self, resource: &str, actions: &[&str]) -> Scope {
        self.0
            .entry(resource.to_string())
            .or_default()
            .extend(actions.iter().map(|a| a.to_string()));
        self
    }

    /// This scope and the one a challenge asked for (space-separated
    /// `type:name:action,action` items; a name may hold `:`, as `host:port/x` does).
    pub fn merged(&self, challenge: &str) -> Scope {
        let mut s = self.clone();
        for item in challenge.split_whitespace() {
            if let Some((resource, actions)) = item.rsplit_once(':') {
                let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
                s = s.with(resource, &actions);
            }
        }
        s
    }

    /// The `scope` query values, one per resource.
    pub fn items(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(r, a)| format!("{r}:{}", a.iter().cloned().collect::<Vec<_>>().join(",")))
            .collect()
    }

    /// One string for the whole scope (the cache key).
    pub fn key(&self) -> String {
        self.items().join(" ")
    }
}

/// A token and when to stop using it.
struct Cached {
    token: Secret,
    until: Instant,
}

/// Bearer tokens of one registry, per scope, until they expire (a little before, so that a
/// token is not sent in its last seconds).
#[derive(Default)]
pub struct TokenCache(Mutex<HashMap<String, Cached>>);

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "TokenCache({n} tokens, <redacted>)")
    }
}

impl TokenCache {
    /// The token for `scope`, if one is cached and not expired.
    pub fn get(&self, scope: &Scope) -> Option<Secret> {
        let mut m = self.0.lock().ok()?;
        let key = scope.key();
        match m.get(&key) {
            Some(c) if Instant::now() < c.until => Some(c.token.clone()),
            Some(_) => {
                m.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Keeps `token` for `scope` for `lifetime`.
    pub fn put(&self, scope: &Scope, token: Secret, lifetime: Duration) {
        // Stop using it a little early: 10 % of its life, at most 30 s.
        let margin = (lifetime / 10).min(Duration::from_secs(30));
        if let Ok(mut m) = self.0.lock() {
            m.insert(
                scope.key(),
                Cached {
                    token,
                    until: Instant::now() + lifetime.saturating_sub(margin),
                },
            );
        }
    }

    /// Forgets the token for `scope` if it is still `token` (the registry refused it).
    pub fn drop_token(&self, scope: &Scope, token: &Secret) {
        if let Ok(mut m) = self.0.lock() {
            let key = scope.key();
            if m.get(&key).is_some_and(|c| &c.token == token) {
                m.remove(&key);
            }
        }
    }
}

/// A token service's answer: the token and how long it is valid from now.
#[derive(Debug)]
pub struct TokenAnswer {
    /// `token`, or `access_token`.
    pub token: Secret,
    /// From `expires_in` (60 s when absent, per the distribution token spec) counted from
    /// `issued_at` when that is given.
    pub lifetime: Duration,
}

/// Reads a token service's JSON answer; `None` when it holds no token.
pub fn parse_token_answer(body: &[u8], now: SystemTime) -> Option<TokenAnswer> {
    #[derive(serde::Deserialize)]
    struct Answer {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<i64>,
        issued_at: Option<String>,
    }
    let a: Answer = serde_json::from_slice(body).ok()?;
    let token = a
        .token
        .filter(|t| !t.is_empty())
        .or(a.access_token.filter(|t| !t.is_empty()))?;
    let expires_in = a.expires_in.filter(|&s| s > 0).unwrap_or(60);
    let lifetime = match a.issued_at.as_deref().and_then(parse_rfc3339) {
        Some(issued) => {
            let end = issued + Duration::from_secs(expires_in.unsigned_abs());
            // A token service whose clock is ahead does not make a token live longer.
            end.duration_since(now)
                .unwrap_or(Duration::ZERO)
                .min(Duration::from_secs(expires_in.unsigned_abs()))
        }
        None => Duration::from_secs(expires_in.unsigned_abs()),
    };
    Some(TokenAnswer {
        token: Secret::new(token),
        lifetime,
    })
}

/// An RFC 3339 time (`2026-12-06T22:30:00Z`, `…T22:30:00.123+01:00`).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = s.get(start..i.min(start + 9))?;
        nanos = format!("{frac:0<9}").parse().ok()?;
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let v = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    let base = SystemTime::UNIX_EPOCH;
    if secs >= 0 {
        base.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        base.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

/// How long `Retry-After` asks to wait: delay-seconds or an HTTP date.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_quoted_scope_keeps_its_commas() {
        let h = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull,push""#;
        assert_eq!(
            parse_challenges([h]).unwrap(),
            [Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:team/app:pull,push".into()),
            }]
        );
    }

    #[test]
    fn several_challenges_and_schemes_in_one_header() {
        let h = r#"Basic realm="x, y", Bearer realm="https://a/t", scope="repository:a:pull,push repository:b:pull", error="invalid_token""#;
        let c = parse_challenges([h]).unwrap();
        assert_eq!(c.len(), 2);
        assert!(
            matches!(&c[0], Challenge::Bearer { scope: Some(s), .. } if s == "repository:a:pull,push repository:b:pull")
        );
        assert_eq!(c[1], Challenge::Basic);
        assert_eq!(
            parse_challenges([r#"basic realm="Registry Realm""#]).unwrap(),
            [Challenge::Basic]
        );
        assert!(parse_challenges(["Bearer realm=\"unterminated"]).is_err());
        assert!(parse_challenges(["Negotiate"]).unwrap().is_empty());
    }

    #[test]
    fn scopes_merge_per_resource() {
        let ours = Scope::repository("p/a", &["pull", "push"]).with("repository:p/b", &["pull"]);
        assert_eq!(ours.key(), "repository:p/a:pull,push repository:p/b:pull");
        let m = ours.merged("repository:p/a:pull repository:host:5000/c:pull,delete");
        assert_eq!(
            m.items(),
            [
                "repository:host:5000/c:delete,pull",
                "repository:p/a:pull,push",
                "repository:p/b:pull"
            ]
        );
        assert_eq!(Scope::catalog().key(), "registry:catalog:*");
    }

    #[test]
    fn token_answers_and_their_lifetime() {
        let now = parse_rfc3339("2026-12-06T22:00:00Z").unwrap();
        let a = parse_token_answer(br#"{"token":"t1"}"#, now).unwrap();
        assert_eq!(
            (a.token.expose(), a.lifetime),
            ("t1", Duration::from_secs(60))
        );
        let a = parse_token_answer(
            br#"{"access_token":"t2","expires_in":300,"issued_at":"2026-12-06T21:58:00Z"}"#,
            now,
        )
        .unwrap();
        assert_eq!(
            (a.token.expose(), a.lifetime),
            ("t2", Duration::from_secs(180))
        );
        let a = parse_token_answer(
            br#"{"token":"t3","expires_in":300,"issued_at":"2026-12-06T23:00:00.5+02:00"}"#,
            now,
        )
        .unwrap();
        assert_eq!(a.lifetime, Duration::ZERO, "issued 21:00Z, expired 21:05Z");
        assert!(parse_token_answer(br#"{"token":""}"#, now).is_none());
        assert!(format!("{a:?}").contains("<redacted>") && !format!("{a:?}").contains("t3"));
    }

    #[test]
    fn rfc3339_times() {
        let t = |s| {
            parse_rfc3339(s)
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        };
        assert_eq!(t("1970-01-01T00:00:00Z"), 0.0);
        assert_eq!(t("2000-03-01T00:00:00Z"), 951_868_800.0);
        assert_eq!(t("2026-12-06T22:30:00.25-01:00"), 1_796_599_800.25);
        assert!(parse_rfc3339("2026-13-01T00:00:00Z").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Dec 2026 22:00:00 GMT").unwrap();
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Sun, 06 Dec 2026 22:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sun, 06 Dec 2026 21:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn the_cache_keeps_a_token_per_scope_until_it_expires_or_is_refused() {
        let c = TokenCache::default();
        let a = Scope::repository("p/a", &["pull", "push"]);
        let b = Scope::repository("p/b", &["pull", "push"]);
        c.put(&a, Secret::new("ta"), Duration::from_secs(60));
        c.put(&b, Secret::new("tb"), Duration::ZERO);
        assert_eq!(c.get(&a).unwrap().expose(), "ta");
        assert!(c.get(&b).is_none(), "expired");
        c.drop_token(&a, &Secret::new("other"));
        assert!(c.get(&a).is_some(), "a newer token is kept");
        c.drop_token(&a, &Secret::new("ta"));
        assert!(c.get(&a).is_none());
        assert!(!format!("{c:?}").contains("ta\""));
    }
}
