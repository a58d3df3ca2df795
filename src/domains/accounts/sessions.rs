//! `GET /api/v1/me/sessions` and `DELETE /api/v1/me/sessions/{id}`: where the account is
//! signed in (device, browser, approximate place) and ending any of those sessions.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::domains::auth::extract::{AuthUser, Client};
use crate::domains::auth::store;
use crate::error::{ApiError, ApiResult};

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    /// `Desktop`, `Phone`, ... from the user agent.
    pub device: String,
    pub browser: String,
    pub os: String,
    /// The address, shortened (last part hidden).
    pub ip: String,
    /// Approximate place of the address.
    pub place: String,
    pub created_at: i64,
    pub last_used_at: i64,
    /// The session this request comes from.
    pub current: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

/// Describes a user agent as (device, browser, os).
fn describe_agent(agent: &str) -> (String, String, String) {
    let Some(parsed) = woothee::parser::Parser::new().parse(agent) else {
        let fallback = if agent.is_empty() {
            "Unknown client"
        } else {
            "Other client"
        };
        return ("Unknown device".into(), fallback.into(), "Unknown".into());
    };
    let device = match parsed.category {
        "pc" => "Desktop",
        "smartphone" => "Phone",
        "mobilephone" => "Mobile phone",
        "appliance" => "Appliance",
        "crawler" => "Crawler",
        _ => "Device",
    };
    let browser = if parsed.version.is_empty() || parsed.version == "UNKNOWN" {
        parsed.name.to_string()
    } else {
        let major = parsed.version.split('.').next().unwrap_or(parsed.version);
        format!("{} {major}", parsed.name)
    };
    (device.into(), browser, parsed.os.to_string())
}

/// Where an address is, as far as the appliance knows without a GeoIP database.
fn place_of(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => "This machine".into(),
        Ok(IpAddr::V4(v4)) if v4.is_private() || v4.is_link_local() => "Local network".into(),
        Ok(IpAddr::V6(v6)) if v6.is_unique_local() || v6.is_unicast_link_local() => {
            "Local network".into()
        }
        Ok(_) => "Internet".into(),
        Err(_) => "Unknown".into(),
    }
}

/// Hides the host part: `203.0.113.x`, `2001:db8:1:2::x`.
fn shorten_ip(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.x", o[0], o[1], o[2])
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::x", s[0], s[1], s[2], s[3])
        }
        Err(_) => String::new(),
    }
}

#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "account",
    responses((status = 200, body = SessionList)))]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<SessionList>> {
    let current = user.require_session()?.to_string();
    let now = state.now();
    let rows = state
        .db
        .query(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, user_agent, ip, created_at, last_used_at FROM sessions
                 WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
                 ORDER BY last_used_at DESC",
            )?;
            let rows = stmt.query_map(rusqlite::params![user.user_id, now], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let items = rows
        .into_iter()
        .map(|(id, agent, ip, created_at, last_used_at)| {
            let (device, browser, os) = describe_agent(&agent);
            SessionView {
                current: id == current,
                id,
                device,
                browser,
                os,
                place: place_of(&ip),
                ip: shorten_ip(&ip),
                created_at,
                last_used_at,
            }
        })
        .collect();
    Ok(Json(SessionList { items }))
}

#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "account",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Session ended"), (status = 404, body = crate::error::Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    Client(client, _): Client,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_session()?;
    let now = state.now();
    state
        .db
        .write(move |tx| {
            let owner: Option<String> = rusqlite::OptionalExtension::optional(tx.query_row(
                "SELECT user_id FROM sessions WHERE id = ?1 AND revoked_at IS NULL",
                [&id],
                |r| r.get(0),
            ))?;
            if owner.as_deref() != Some(user.user_id.as_str()) {
                return Err(ApiError::NotFound);
            }
            store::revoke_session(tx, &id, "revoked by the user", now)?;
            store::log_event(tx, &user.user_id, "session_revoked", &client, now)?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_clients_and_places() {
        let (device, browser, os) = describe_agent(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        );
        assert_eq!(
            (device.as_str(), browser.as_str(), os.as_str()),
            ("Desktop", "Chrome 131", "Linux")
        );
        assert_eq!(place_of("127.0.0.1"), "This machine");
        assert_eq!(place_of("192.168.1.4"), "Local network");
        assert_eq!(shorten_ip("203.0.113.9"), "203.0.113.x");
    }
}
