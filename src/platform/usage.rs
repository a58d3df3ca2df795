//! Local usage counters (`usage_daily`): how often each page, API route and feature is
//! used, per day and person, with the client address. Counts gather in memory and are
//! written in one transaction every few seconds (a crash loses at most those seconds of
//! counting, never an acknowledged write). Addresses are shortened to their /24 or /48
//! after some days, and rows are deleted after the retention period. Callers decide
//! what is counted and for whom; nothing here knows a domain.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use rusqlite::{Connection, Transaction, params};
use serde::Serialize;

use super::clock::{Clock, iso_date};
use super::db::{Db, DbError};

/// How often buffered counts are written.
const FLUSH_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A page of the web UI was shown.
    Page,
    /// An API route answered.
    Api,
    /// A feature was used (named by the caller).
    Feature,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Page => "page",
            Kind::Api => "api",
            Kind::Feature => "feature",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "page" => Kind::Page,
            "feature" => Kind::Feature,
            _ => Kind::Api,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    day: String,
    user_id: Option<String>,
    kind: Kind,
    name: String,
    ip: String,
}

/// An address shortened to its network: /24 for IPv4, /48 for IPv6.
pub fn shorten(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => ip.to_string(),
    }
}

/// The signed-in person of a request, filled in by whoever authenticates it, so the
/// counting middleware learns who asked without reading tokens itself.
#[derive(Clone, Default)]
pub struct RequestUser(pub Arc<OnceLock<String>>);

/// Counts waiting to be written, and who asked not to be counted.
pub struct UsageRecorder {
    clock: Clock,
    enabled: bool,
    pending: Mutex<HashMap<Key, i64>>,
    opted_out: RwLock<HashSet<String>>,
}

impl UsageRecorder {
    pub fn new(clock: Clock, enabled: bool) -> Self {
        Self {
            clock,
            enabled,
            pending: Mutex::default(),
            opted_out: RwLock::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Counts one use. A signed-in person who opted out is not counted at all; an
    /// anonymous visitor is counted without an address.
    pub fn count(&self, user_id: Option<&str>, kind: Kind, name: &str, ip: Option<IpAddr>) {
        if !self.enabled {
            return;
        }
        if let Some(user) = user_id
            && self.opted_out.read().is_ok_and(|set| set.contains(user))
        {
            return;
        }
        let key = Key {
            day: iso_date(self.clock.now()),
            user_id: user_id.map(str::to_string),
            kind,
            name: name.to_string(),
            ip: match (user_id, ip) {
                (Some(_), Some(ip)) => ip.to_string(),
                _ => String::new(),
            },
        };
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry(key).or_default() += 1;
        }
    }

    /// Whether `user_id` is left out of the counts from now on.
    pub fn set_opted_out(&self, user_id: &str, opted_out: bool) {
        if let Ok(mut set) = self.opted_out.write() {
            if opted_out {
                set.insert(user_id.to_string());
            } else {
                set.remove(user_id);
            }
        }
        if opted_out {
            self.forget(user_id);
        }
    }

    /// Replaces who is left out (at start).
    pub fn load_opted_out(&self, users: impl IntoIterator<Item = String>) {
        if let Ok(mut set) = self.opted_out.write() {
            *set = users.into_iter().collect();
        }
    }

    /// Forgets what is buffered for `user_id` (their account is going).
    pub fn forget(&self, user_id: &str) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.retain(|k, _| k.user_id.as_deref() != Some(user_id));
        }
    }

    fn take(&self) -> Vec<(Key, i64)> {
        self.pending
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default()
    }

    /// Writes what is buffered.
    pub async fn flush(&self, db: &Db) -> Result<usize, DbError> {
        let entries = self.take();
        if entries.is_empty() {
            return Ok(0);
        }
        db.write(move |tx| {
            for (key, count) in &entries {
                add(tx, key, *count)?;
            }
            Ok::<_, DbError>(entries.len())
        })
        .await
    }

    /// Writes buffered counts every few seconds until `shutdown`, then once more.
    pub async fn run(self: Arc<Self>, db: Db, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(FLUSH_EVERY) => {}
                _ = shutdown.changed() => {
                    if let Err(error) = self.flush(&db).await {
                        tracing::warn!(%error, "usage counts not written at shutdown");
                    }
                    return;
                }
            }
            if let Err(error) = self.flush(&db).await {
                tracing::warn!(%error, "usage counts not written");
            }
        }
    }
}

fn add(tx: &Transaction<'_>, key: &Key, count: i64) -> rusqlite::Result<()> {
    // The account may have been purged since the count was taken.
    let user = match &key.user_id {
        Some(id) => tx
            .prepare_cached("SELECT id FROM users WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, String>(0))
            .ok(),
        None => None,
    };
    let ip = if user.is_some() { key.ip.as_str() } else { "" };
    let changed = tx
        .prepare_cached(
            "UPDATE usage_daily SET count = count + ?6
             WHERE day = ?1 AND user_id IS ?2 AND kind = ?3 AND name = ?4 AND ip = ?5",
        )?
        .execute(params![
            key.day,
            user,
            key.kind.as_str(),
            key.name,
            ip,
            count
        ])?;
    if changed == 0 {
        tx.prepare_cached(
            "INSERT INTO usage_daily (day, user_id, kind, name, ip, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            key.day,
            user,
            key.kind.as_str(),
            key.name,
            ip,
            count
        ])?;
    }
    Ok(())
}

/// Shortens the addresses of days before `full_until_day` and deletes rows of days
/// before `keep_from_day`; returns (rows shortened, rows deleted).
pub fn apply_retention(
    tx: &Transaction<'_>,
    full_until_day: &str,
    keep_from_day: &str,
) -> rusqlite::Result<(usize, usize)> {
    let deleted = tx.execute("DELETE FROM usage_daily WHERE day < ?1", [keep_from_day])?;
    let mut stmt = tx.prepare(
        "SELECT id, day, user_id, kind, name, ip, count FROM usage_daily
         WHERE day < ?1 AND ip <> '' AND ip NOT LIKE '%/%'",
    )?;
    let rows: Vec<(i64, Key, i64)> = stmt
        .query_map([full_until_day], |r| {
            Ok((
                r.get(0)?,
                Key {
                    day: r.get(1)?,
                    user_id: r.get(2)?,
                    kind: Kind::parse(&r.get::<_, String>(3)?),
                    name: r.get(4)?,
                    ip: shorten(&r.get::<_, String>(5)?),
                },
                r.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    for (id, key, count) in &rows {
        tx.execute("DELETE FROM usage_daily WHERE id = ?1", [id])?;
        add(tx, key, *count)?;
    }
    Ok((rows.len(), deleted))
}

/// One day of the dashboard.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DayTotals {
    pub day: String,
    /// People signed in who used the site that day.
    pub active_users: i64,
    pub page_views: i64,
    pub api_requests: i64,
    pub features: i64,
}

/// Totals per day from `since_day` on, oldest first.
pub fn daily_totals(conn: &Connection, since_day: &str) -> rusqlite::Result<Vec<DayTotals>> {
    let mut stmt = conn.prepare(
        "SELECT day, COUNT(DISTINCT user_id),
                SUM(CASE kind WHEN 'page' THEN count ELSE 0 END),
                SUM(CASE kind WHEN 'api' THEN count ELSE 0 END),
                SUM(CASE kind WHEN 'feature' THEN count ELSE 0 END)
         FROM usage_daily WHERE day >= ?1 GROUP BY day ORDER BY day",
    )?;
    let rows = stmt.query_map([since_day], |r| {
        Ok(DayTotals {
            day: r.get(0)?,
            active_users: r.get(1)?,
            page_views: r.get(2)?,
            api_requests: r.get(3)?,
            features: r.get(4)?,
        })
    })?;
    rows.collect()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NamedCount {
    pub name: String,
    pub count: i64,
}

/// The most used names of `kind` since `since_day` (for `user_id` only when given).
pub fn top(
    conn: &Connection,
    kind: Kind,
    since_day: &str,
    user_id: Option<&str>,
    limit: i64,
) -> rusqlite::Result<Vec<NamedCount>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, SUM(count) AS total FROM usage_daily
         WHERE kind = ?1 AND day >= ?2 AND (?3 IS NULL OR user_id = ?3)
         GROUP BY name ORDER BY total DESC, name LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![kind.as_str(), since_day, user_id, limit], |r| {
        Ok(NamedCount {
            name: r.get(0)?,
            count: r.get(1)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_shorten_to_their_network() {
        assert_eq!(shorten("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(
            shorten("2001:db8:85a3:8d3:1319:8a2e:370:7348"),
            "2001:db8:85a3::/48"
        );
        assert_eq!(shorten("203.0.113.0/24"), "203.0.113.0/24");
    }

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(1_795_506_554), "2026-11-24");
    }

    #[test]
    fn opted_out_people_are_not_counted_and_anonymous_visits_carry_no_address() {
        let recorder = UsageRecorder::new(Clock::default(), true);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        recorder.set_opted_out("u2", true);
        recorder.count(Some("u1"), Kind::Api, "GET /x", Some(ip));
        recorder.count(Some("u1"), Kind::Api, "GET /x", Some(ip));
        recorder.count(Some("u2"), Kind::Api, "GET /x", Some(ip));
        recorder.count(None, Kind::Page, "/", Some(ip));
        let mut taken = recorder.take();
        taken.sort_by_key(|(k, _)| k.user_id.clone());
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[0].0.user_id, None);
        assert_eq!(taken[0].0.ip, "");
        assert_eq!(taken[1].0.user_id.as_deref(), Some("u1"));
        assert_eq!(taken[1].0.ip, "203.0.113.9");
        assert_eq!(taken[1].1, 2);
    }
}
