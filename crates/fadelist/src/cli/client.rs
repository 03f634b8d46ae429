//! `admin`: the HTTP client of a running server's admin API (`report`,
//! the reporters' client, is in `report.rs`).

use anyhow::{Context, bail};

use super::{AdminCmd, UsageError};

/// `--trusted` values checked here too, before anything is sent: the same
/// message and exit status (64) as the offline commands.
fn trusted_arg(trusted: &[String]) -> anyhow::Result<Vec<String>> {
    crate::input::parse_trusted(trusted).map_err(|e| UsageError(format!("--trusted: {e}")).into())
}

/// `admin …`: one call of the admin API; prints its JSON answer.
pub fn admin(server: &str, token: &str, cmd: AdminCmd) -> anyhow::Result<()> {
    use serde_json::json;
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let (method, path, body) = match cmd {
        AdminCmd::List {
            key,
            zone,
            code,
            reason,
            expires_in,
        } => (
            "POST",
            "/admin/v1/listings".to_string(),
            Some(
                json!({"key": key, "zone": zone, "code": code, "reason": reason, "expires_in": expires_in}),
            ),
        ),
        AdminCmd::Unlist { zone, key } => (
            "DELETE",
            format!("/admin/v1/listings/{}/{}", enc(&zone), enc(&key)),
            None,
        ),
        AdminCmd::Listings => ("GET", "/admin/v1/listings".into(), None),
        AdminCmd::NeverAdd { entry, reason } => (
            "POST",
            "/admin/v1/neverlist".into(),
            Some(json!({"entry": entry, "reason": reason})),
        ),
        AdminCmd::NeverRemove { entry } => (
            "DELETE",
            format!("/admin/v1/neverlist/{}", enc(&entry)),
            None,
        ),
        AdminCmd::Never => ("GET", "/admin/v1/neverlist".into(), None),
        AdminCmd::Review => ("GET", "/admin/v1/review".into(), None),
        AdminCmd::Approve { id } => ("POST", format!("/admin/v1/review/{id}/approve"), None),
        AdminCmd::Deny { id } => ("POST", format!("/admin/v1/review/{id}/deny"), None),
        AdminCmd::Audit {
            key,
            zone,
            action,
            since,
            limit,
        } => {
            let mut q = vec![format!("limit={limit}")];
            for (k, v) in [("key", key), ("zone", zone), ("action", action)] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", enc(&v)));
                }
            }
            if let Some(t) = since {
                q.push(format!("since={t}"));
            }
            ("GET", format!("/admin/v1/audit?{}", q.join("&")), None)
        }
        AdminCmd::Reporters => ("GET", "/admin/v1/reporters".into(), None),
        AdminCmd::AddReporter {
            name,
            weight,
            kind,
            trusted,
        } => {
            let weight = crate::input::parse_weight(weight)
                .map_err(|e| UsageError(format!("--weight: {e}")))?;
            (
                "POST",
                "/admin/v1/reporters".into(),
                Some(
                    json!({"name": name, "weight": weight, "kind": kind, "trusted": trusted_arg(&trusted)?}),
                ),
            )
        }
        AdminCmd::SetTrusted { name, trusted } => (
            "PUT",
            format!("/admin/v1/reporters/{}", enc(&name)),
            Some(json!({"trusted": trusted_arg(&trusted)?})),
        ),
        AdminCmd::RevertReporter { name } => (
            "POST",
            format!("/admin/v1/reporters/{}/revert", enc(&name)),
            None,
        ),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let auth = format!("Bearer {token}");
    let resp = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
        ("PUT", b) => agent
            .put(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(b.unwrap_or_default().to_string().as_bytes()),
        (_, Some(b)) => agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(b.to_string().as_bytes()),
        (_, None) => agent.post(&url).header("Authorization", &auth).send_empty(),
    }
    .with_context(|| format!("cannot reach the admin API at {server}"))?;
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    println!("{text}");
    if status >= 300 {
        bail!("admin API answered HTTP {status}");
    }
    Ok(())
}
