//! Regions and profile ARNs (spec §9.2): `/region/{region}/…`, the ARN each kind of account
//! may send, ListAvailableProfiles per region, the REST GETs, `tokentype: EXTERNAL_IDP`.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use common::*;
use conduit_sim::arn::{BUILDER_ID_PLACEHOLDER_ARN, SOCIAL_DEFAULT_ARN};
use conduit_sim::{Account, AccountKind, ConfigPatch, Profile, SimHandle};
use serde_json::{json, Value};

const IDC_US: &str = "arn:aws:codewhisperer:us-east-1:111122223333:profile/IDCUS";
const IDC_EU: &str = "arn:aws:codewhisperer:eu-central-1:111122223333:profile/IDCEU";
const OTHER: &str = "arn:aws:codewhisperer:us-east-1:999988887777:profile/OTHER";
const PROFILES: &str = "AmazonCodeWhispererService.ListAvailableProfiles";

fn account(token: &str, kind: AccountKind, arns: &[&str]) -> Account {
    Account::new(token, format!("{token}-refresh"))
        .with_kind(kind)
        .with_profiles(arns.iter().map(|a| Profile::new(*a)).collect())
}

async fn world() -> SimHandle {
    let sim = sim().await;
    sim.add_account(account("builder", AccountKind::BuilderId, &[]));
    sim.add_account(account("idc", AccountKind::Idc, &[IDC_US, IDC_EU]));
    sim.add_account(account("ent", AccountKind::Enterprise, &[IDC_EU]));
    sim.add_account(account("entra", AccountKind::ExternalIdp, &[IDC_US]));
    sim.add_account(Account::new("social-default", "sd-refresh"));
    sim
}

async fn chat_at(
    sim: &SimHandle,
    region: Option<&str>,
    token: &str,
    arn: Option<&str>,
) -> (u16, Value) {
    let mut body = request("Hi");
    match arn {
        Some(a) => body["profileArn"] = json!(a),
        None => {
            body.as_object_mut().unwrap().remove("profileArn");
        }
    }
    let url = match region {
        Some(r) => format!("{}/region/{r}/generateAssistantResponse", sim.base_url()),
        None => format!("{}/generateAssistantResponse", sim.base_url()),
    };
    let mut req = client().post(url).bearer_auth(token).json(&body);
    if token == "entra" {
        req = req.header("tokentype", "EXTERNAL_IDP");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// (region, token, arn, status, message when refused)
type ChatCase<'a> = (Option<&'a str>, &'a str, Option<&'a str>, u16, &'a str);
/// (region, token, send tokentype, status, listed ARNs)
type ProfileCase<'a> = (Option<&'a str>, &'a str, bool, u16, &'a [&'a str]);

const REQUIRED: &str = "profileArn is required for this request.";
const DENIED: &str = "User is not authorized to make this call.";
const MALFORMED: &str = "Improperly formed request.";

#[tokio::test]
async fn chat_arn_rules_per_account_kind() {
    let sim = world().await;
    let table: &[ChatCase] = &[
        (
            Some("us-east-1"),
            "builder",
            Some(BUILDER_ID_PLACEHOLDER_ARN),
            200,
            "",
        ),
        (Some("us-east-1"), "builder", None, 400, REQUIRED),
        (Some("us-east-1"), "builder", Some(IDC_US), 403, DENIED),
        (Some("us-east-1"), "idc", Some(IDC_US), 200, ""),
        (Some("eu-central-1"), "idc", Some(IDC_EU), 200, ""),
        (Some("us-east-1"), "idc", None, 400, REQUIRED),
        (
            Some("us-east-1"),
            "idc",
            Some(BUILDER_ID_PLACEHOLDER_ARN),
            403,
            DENIED,
        ),
        (Some("us-east-1"), "idc", Some(OTHER), 403, DENIED),
        (Some("us-east-1"), "idc", Some(IDC_EU), 400, MALFORMED),
        (Some("eu-central-1"), "idc", Some(IDC_US), 400, MALFORMED),
        (Some("eu-central-1"), "ent", Some(IDC_EU), 200, ""),
        (
            Some("eu-central-1"),
            "ent",
            Some(BUILDER_ID_PLACEHOLDER_ARN),
            400,
            MALFORMED,
        ),
        (
            Some("us-east-1"),
            "ent",
            Some(BUILDER_ID_PLACEHOLDER_ARN),
            403,
            DENIED,
        ),
        (Some("us-east-1"), "entra", Some(IDC_US), 200, ""),
        (Some("us-east-1"), "entra", None, 400, REQUIRED),
        (Some("us-east-1"), TOKEN, Some(ARN), 200, ""),
        (Some("us-east-1"), TOKEN, Some(OTHER), 403, DENIED),
        (
            Some("us-east-1"),
            "social-default",
            Some(SOCIAL_DEFAULT_ARN),
            200,
            "",
        ),
        (Some("us-east-1"), "social-default", None, 400, REQUIRED),
        // The root does no region checks unless `root_region` is set.
        (None, "idc", Some(IDC_EU), 200, ""),
        (None, "idc", Some(OTHER), 403, DENIED),
    ];
    for (region, token, arn, status, message) in table {
        let (got, body) = chat_at(&sim, *region, token, *arn).await;
        assert_eq!(got, *status, "{region:?} {token} {arn:?}: {body}");
        if !message.is_empty() {
            assert_eq!(
                body,
                json!({"message": message, "reason": null}),
                "{token} {arn:?}"
            );
        }
    }
    sim.configure(ConfigPatch {
        root_region: Some("us-east-1".into()),
        ..ConfigPatch::default()
    });
    assert_eq!(chat_at(&sim, None, "idc", Some(IDC_EU)).await.0, 400);
    assert_eq!(chat_at(&sim, None, "idc", Some(IDC_US)).await.0, 200);
    // The log keeps the service path and names the region.
    let log = sim.log();
    let entry = log.iter().find(|e| e.region.is_some()).unwrap();
    assert_eq!(entry.path, "/generateAssistantResponse");
    assert_eq!(entry.region.as_deref(), Some("us-east-1"));
    assert!(sim.chat_count() >= 20);
}

async fn profiles_at(
    sim: &SimHandle,
    region: Option<&str>,
    token: &str,
    header: bool,
) -> (u16, Value) {
    let url = match region {
        Some(r) => format!("{}/region/{r}/", sim.base_url()),
        None => format!("{}/", sim.base_url()),
    };
    let mut req = client()
        .post(url)
        .header("x-amz-target", PROFILES)
        .header("content-type", "application/x-amz-json-1.0")
        .bearer_auth(token)
        .body("{}");
    if header {
        req = req.header("TokenType", "EXTERNAL_IDP");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn arns(v: &Value) -> Vec<String> {
    v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["arn"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn profiles_are_listed_per_region_only_where_the_operation_exists() {
    let sim = world().await;
    let table: &[ProfileCase] = &[
        (Some("us-east-1"), "idc", false, 200, &[IDC_US]),
        (Some("eu-central-1"), "idc", false, 200, &[IDC_EU]),
        (None, "idc", false, 200, &[IDC_US, IDC_EU]),
        (Some("ap-south-1"), "idc", false, 403, &[]),
        (Some("us-east-1"), "builder", false, 200, &[]),
        (Some("us-east-1"), "entra", true, 200, &[IDC_US]),
        (Some("us-east-1"), "entra", false, 200, &[]),
        (Some("eu-central-1"), "ent", false, 200, &[IDC_EU]),
    ];
    for (region, token, header, status, want) in table {
        let (got, body) = profiles_at(&sim, *region, token, *header).await;
        assert_eq!(got, *status, "{region:?} {token}: {body}");
        if got == 200 {
            assert_eq!(arns(&body), *want, "{region:?} {token}");
        } else {
            assert_eq!(body["message"], DENIED);
        }
    }
}

#[tokio::test]
async fn rest_gets_refuse_a_real_arn_and_external_idp_needs_its_header() {
    let sim = world().await;
    let get = |path: String, token: &'static str, header: bool| {
        let mut req = client().get(path).bearer_auth(token);
        if header {
            req = req.header("tokentype", "EXTERNAL_IDP");
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let base = sim.base_url();
    for path in [
        "ListAvailableModels?origin=AI_EDITOR",
        "getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST",
    ] {
        for (query, status) in [
            (String::new(), 200),
            (format!("&profileArn={}", enc(IDC_US)), 400),
            (
                format!("&profileArn={}", enc(BUILDER_ID_PLACEHOLDER_ARN)),
                200,
            ),
            (format!("&profileArn={}", enc(SOCIAL_DEFAULT_ARN)), 200),
        ] {
            for token in ["idc", "builder", TOKEN] {
                let url = format!("{base}/region/us-east-1/{path}{query}");
                assert_eq!(
                    get(url, token, false).await,
                    status,
                    "{path}{query} {token}"
                );
            }
        }
        let url = format!("{base}/{path}");
        assert_eq!(get(url.clone(), "entra", true).await, 200, "{path}");
        assert_eq!(get(url, "entra", false).await, 403, "{path}");
    }
    // Chat without the header: the bearer is not recognised.
    let mut body = request("Hi");
    body["profileArn"] = json!(IDC_US);
    let resp = chat_as(&sim, "entra", &body).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["message"],
        "The bearer token included in the request is invalid."
    );
}

fn enc(s: &str) -> String {
    s.replace(':', "%3A").replace('/', "%2F")
}
