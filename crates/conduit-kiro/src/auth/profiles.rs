//! Profile discovery (spec §2.5): `ListAvailableProfiles` on the Q API hosts, and the choice
//! between several profiles. The API region is field 4 of the chosen ARN, never the SSO region.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::KiroConfig;

/// The API regions the official client knows (spec §2.4).
pub const API_REGIONS: [&str; 2] = ["us-east-1", "eu-central-1"];
const TARGET: &str = "AmazonCodeWhispererService.ListAvailableProfiles";
const MAX_PAGES: usize = 20;

/// One CodeWhisperer profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub arn: String,
    #[serde(default, rename = "profileName")]
    pub name: String,
}

/// The profiles the access token can use (spec §9.2): ListAvailableProfiles is answered at
/// us-east-1 and eu-central-1 only, so the one matching the SSO region is asked first and the
/// other when the first refuses (403) or lists nothing. One host when `CONDUIT_KIRO_API_URL`
/// pins it (no `{region}` in it). Entra ID tokens send `tokentype: EXTERNAL_IDP`.
pub async fn list_profiles(
    http: &reqwest::Client,
    config: &KiroConfig,
    access_token: &str,
    external_idp: bool,
    sso_region: &str,
) -> Result<Vec<Profile>, String> {
    let hosts: Vec<String> = if config.api_url_follows_region() {
        regions_in_order(sso_region)
            .iter()
            .map(|r| config.api_url_in(r))
            .collect()
    } else {
        vec![config.api_url_in(crate::config::DEFAULT_REGION)]
    };
    let mut errors = Vec::new();
    for host in &hosts {
        match list_on(http, host, access_token, external_idp).await {
            Ok(found) if !found.is_empty() => return Ok(found),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.len() == hosts.len() {
        return Err(format!(
            "could not list the CodeWhisperer profiles: {}",
            errors.join("; ")
        ));
    }
    Ok(Vec::new())
}

/// The two API regions, the one matching the SSO region first.
pub fn regions_in_order(sso_region: &str) -> [&'static str; 2] {
    if sso_region.starts_with("eu-") {
        [API_REGIONS[1], API_REGIONS[0]]
    } else {
        API_REGIONS
    }
}

async fn list_on(
    http: &reqwest::Client,
    host: &str,
    token: &str,
    external_idp: bool,
) -> Result<Vec<Profile>, String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut body = json!({"maxResults": 10});
        if let Some(n) = &next {
            body["nextToken"] = json!(n);
        }
        let mut request = http.post(format!("{}/", host.trim_end_matches('/')));
        if external_idp {
            request = request.header(
                super::kind::TOKEN_TYPE_HEADER,
                super::kind::EXTERNAL_IDP_TOKEN_TYPE,
            );
        }
        let response = request
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", TARGET)
            .bearer_auth(token)
            .body(body.to_string())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("{host}: {}", e.without_url()))?;
        let status = response.status();
        let v: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(format!("{host}: HTTP {} {msg}", status.as_u16()));
        }
        if let Some(list) = v.get("profiles").and_then(Value::as_array) {
            out.extend(
                list.iter()
                    .filter_map(|p| serde_json::from_value::<Profile>(p.clone()).ok()),
            );
        }
        next = v
            .get("nextToken")
            .and_then(Value::as_str)
            .map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    Ok(out)
}

/// What to do with the profiles found.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// This one (the only one, or the one `PROFILE_ARN` names).
    Use(Profile),
    /// None found: Builder ID accounts have none; they send the shared placeholder.
    None,
    /// Several and nothing says which: ask the person.
    Ask(Vec<Profile>),
}

/// Picks without asking where possible. A `wanted` ARN that is not among several found is an
/// error (it would be refused upstream).
pub fn choose(found: Vec<Profile>, wanted: Option<&str>) -> Result<Choice, String> {
    if let Some(arn) = wanted {
        if let Some(p) = found.iter().find(|p| p.arn == arn) {
            return Ok(Choice::Use(p.clone()));
        }
        if found.is_empty() {
            return Ok(Choice::Use(Profile {
                arn: arn.to_string(),
                name: String::new(),
            }));
        }
        return Err(format!(
            "PROFILE_ARN {arn} is not one of this account's profiles: {}",
            describe(&found)
        ));
    }
    Ok(match found.len() {
        0 => Choice::None,
        1 => found.into_iter().next().map_or(Choice::None, Choice::Use),
        _ => Choice::Ask(found),
    })
}

/// `name (arn), …` for messages.
pub fn describe(profiles: &[Profile]) -> String {
    profiles
        .iter()
        .map(|p| format!("{} ({})", p.name, p.arn))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: &str) -> Profile {
        Profile {
            arn: format!("arn:aws:codewhisperer:eu-central-1:1:profile/{n}"),
            name: n.into(),
        }
    }

    #[test]
    fn one_is_used_several_are_asked_and_profile_arn_decides() {
        assert_eq!(choose(vec![p("A")], None).unwrap(), Choice::Use(p("A")));
        assert_eq!(choose(vec![], None).unwrap(), Choice::None);
        assert_eq!(
            choose(vec![p("A"), p("B")], None).unwrap(),
            Choice::Ask(vec![p("A"), p("B")])
        );
        assert_eq!(
            choose(vec![p("A"), p("B")], Some(&p("B").arn)).unwrap(),
            Choice::Use(p("B"))
        );
        let e = choose(
            vec![p("A"), p("B")],
            Some("arn:aws:codewhisperer:us-east-1:1:profile/Z"),
        )
        .unwrap_err();
        assert!(e.contains("not one of"), "{e}");
    }

    #[test]
    fn the_sso_regions_api_region_is_asked_first() {
        assert_eq!(regions_in_order("eu-west-1"), ["eu-central-1", "us-east-1"]);
        assert_eq!(regions_in_order("us-east-1"), ["us-east-1", "eu-central-1"]);
        assert_eq!(
            regions_in_order("ap-south-1"),
            ["us-east-1", "eu-central-1"]
        );
    }
}
