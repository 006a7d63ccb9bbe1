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

/// Every profile the access token can use, from each API host (one host when
/// `CONDUIT_KIRO_API_URL` pins it). A host that fails is skipped when another answers.
pub async fn list_profiles(
    http: &reqwest::Client,
    config: &KiroConfig,
    access_token: &str,
) -> Result<Vec<Profile>, String> {
    let hosts: Vec<String> = match &config.api_url {
        Some(u) => vec![u.clone()],
        None => API_REGIONS
            .iter()
            .map(|r| format!("https://q.{r}.amazonaws.com"))
            .collect(),
    };
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for host in &hosts {
        match list_on(http, host, access_token).await {
            Ok(found) => {
                for p in found {
                    if !all.iter().any(|q: &Profile| q.arn == p.arn) {
                        all.push(p);
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if all.is_empty() && errors.len() == hosts.len() {
        return Err(format!(
            "could not list the CodeWhisperer profiles: {}",
            errors.join("; ")
        ));
    }
    Ok(all)
}

async fn list_on(http: &reqwest::Client, host: &str, token: &str) -> Result<Vec<Profile>, String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut body = json!({"maxResults": 10});
        if let Some(n) = &next {
            body["nextToken"] = json!(n);
        }
        let response = http
            .post(format!("{}/", host.trim_end_matches('/')))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", TARGET)
            .bearer_auth(token)
            .body(body.to_string())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("{host}: {}", e.without_url()))?;
        let status = response.status();
        let v: Value = response
            .json()
            .await
            .map_err(|e| format!("{host}: {}", e.without_url()))?;
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
    /// None found: Builder ID accounts have none; requests go without a profile ARN.
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
}
