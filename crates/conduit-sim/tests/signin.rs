//! Sign-in beyond OIDC (spec §9.3): the Entra ID token endpoint for `external_idp` accounts and
//! Kiro's social sign-in with PKCE and a loopback redirect.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected answers"
)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use conduit_sim::arn::SOCIAL_DEFAULT_ARN;
use conduit_sim::{Account, AccountKind, ConfigPatch, Profile, SimHandle};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ENTRA_ARN: &str = "arn:aws:codewhisperer:us-east-1:111122223333:profile/ENTRA";

async fn entra(sim: &SimHandle, tenant: &str, form: &str) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn refresh_form(rt: &str) -> String {
    format!(
        "grant_type=refresh_token&client_id=app-1&refresh_token={rt}&scope=openid%20offline_access"
    )
}

#[tokio::test]
async fn entra_refresh_rotates_or_keeps_the_refresh_token() {
    let sim = sim().await;
    sim.add_account(
        Account::new("entra-a", "entra-r1")
            .with_kind(AccountKind::ExternalIdp)
            .with_tenant("contoso")
            .with_profiles(vec![Profile::new(ENTRA_ARN)]),
    );
    let (status, tok) = entra(&sim, "contoso", &refresh_form("entra-r1")).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["scope"], "openid offline_access");
    assert!(tok["expires_in"].as_u64().unwrap() > 0);
    let rt2 = tok["refresh_token"].as_str().unwrap().to_owned();
    // Rotated: the old one is dead.
    let (status, err) = entra(&sim, "contoso", &refresh_form("entra-r1")).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_grant");
    assert!(err["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS70000"));
    // The new access token chats (with its header).
    let mut body = request("Hi");
    body["profileArn"] = json!(ENTRA_ARN);
    let resp = client()
        .post(format!("{}/generateAssistantResponse", sim.base_url()))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .header("tokentype", "EXTERNAL_IDP")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Without rotation the answer has no refresh token and the old one stays good.
    sim.configure(ConfigPatch {
        idp_rotate_refresh: Some(false),
        ..ConfigPatch::default()
    });
    for _ in 0..2 {
        let (status, tok) = entra(&sim, "contoso", &refresh_form(&rt2)).await;
        assert_eq!(status, 200, "{tok}");
        assert!(tok.get("refresh_token").is_none());
    }

    // Refusals.
    let table = [
        ("fabrikam", refresh_form(&rt2), "invalid_grant"),
        ("contoso", refresh_form(REFRESH), "invalid_grant"),
        (
            "contoso",
            format!("grant_type=password&client_id=a&refresh_token={rt2}"),
            "unsupported_grant_type",
        ),
        (
            "contoso",
            format!("grant_type=refresh_token&refresh_token={rt2}"),
            "invalid_request",
        ),
    ];
    for (tenant, form, error) in table {
        let (status, body) = entra(&sim, tenant, &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{tenant} {form}"
        );
    }
    // The Kiro desktop endpoint does not take an Entra refresh token.
    let resp = client()
        .post(format!("{}/refreshToken", sim.base_url()))
        .json(&json!({"refreshToken": rt2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn signin(sim: &SimHandle, redirect: &str, verifier: &str) -> reqwest::Response {
    no_redirects()
        .get(format!("{}/signin", sim.base_url()))
        .query(&[
            ("state", "st/ate+1"),
            ("code_challenge", &challenge(verifier)),
            ("code_challenge_method", "S256"),
            ("redirect_uri", redirect),
            ("redirect_from", "KiroIDE"),
        ])
        .send()
        .await
        .unwrap()
}

async fn exchange(sim: &SimHandle, code: &str, verifier: &str, redirect: &str) -> (u16, Value) {
    let resp = client()
        .post(format!("{}/oauth/token", sim.base_url()))
        .json(&json!({"code": code, "code_verifier": verifier, "redirect_uri": redirect}))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn social_pkce_signin_creates_a_social_account() {
    let sim = sim().await;
    let redirect = "http://127.0.0.1:49152";
    let verifier = "a-verifier-of-at-least-43-characters-0123456789abcdef";
    let resp = signin(&sim, redirect, verifier).await;
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let url = reqwest::Url::parse(&location).unwrap();
    assert_eq!(format!("{}://{}", url.scheme(), url.authority()), redirect);
    assert_eq!(url.path(), "/oauth/callback");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st/ate+1");
    let code = q["code"].clone();

    // Wrong verifier or redirect: refused, the code survives for the right exchange.
    let (status, body) = exchange(&sim, &code, "wrong-verifier", redirect).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = exchange(&sim, &code, verifier, "http://127.0.0.1:1").await;
    assert_eq!(status, 400);
    let (status, tok) = exchange(&sim, &code, verifier, redirect).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["profileArn"], SOCIAL_DEFAULT_ARN);
    assert!(tok["refreshToken"].as_str().unwrap().len() >= 100);
    // A used code is dead.
    let (status, _) = exchange(&sim, &code, verifier, redirect).await;
    assert_eq!(status, 400);

    // The new account chats with the shared social ARN and refreshes at the desktop endpoint.
    let mut body = request("Hi");
    body["profileArn"] = json!(SOCIAL_DEFAULT_ARN);
    let access = tok["accessToken"].as_str().unwrap();
    assert_eq!(chat_as(&sim, access, &body).await.status(), 200);
    let resp = client()
        .post(format!("{}/refreshToken", sim.base_url()))
        .json(&json!({"refreshToken": tok["refreshToken"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Only loopback redirects and S256.
    for bad in [
        "https://evil.example:443",
        "http://10.0.0.1:8080",
        "kiro://kiro.kiroAgent",
    ] {
        assert_eq!(signin(&sim, bad, verifier).await.status(), 400, "{bad}");
    }
    let resp = no_redirects()
        .get(format!(
            "{}/signin?state=s&code_challenge=x&code_challenge_method=plain&redirect_uri=http://localhost:1",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        signin(&sim, "http://localhost:8123", verifier)
            .await
            .status(),
        302
    );
}
