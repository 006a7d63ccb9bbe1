//! What is refused before a key is looked up, and the e-mail rules, as tables.
#![allow(clippy::unwrap_used)]

use super::*;
use conduit_store::Role;
use serde_json::json;

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn token(header: Value, payload: Value) -> String {
    format!("{}.{}.c2ln", b64(&header), b64(&payload))
}

#[test]
fn parse_refuses_before_any_key_is_needed() {
    let iss = json!({"iss": "https://idp.example"});
    let cases: Vec<(String, Option<&str>)> = vec![
        (token(json!({"alg":"RS256","kid":"k"}), iss.clone()), None),
        (token(json!({"alg":"none"}), iss.clone()), Some("alg none")),
        (token(json!({"alg":"HS256"}), iss.clone()), Some("HS*")),
        (
            token(json!({"alg":"ES512"}), iss.clone()),
            Some("not one of"),
        ),
        (
            token(json!({"alg":"RS256"}), json!({"sub":"x"})),
            Some("no issuer"),
        ),
        (
            token(json!({"alg":"RS256"}), json!({"iss":["a"]})),
            Some("no issuer"),
        ),
        ("a.b".into(), Some("three base64url parts")),
        ("a.b.c.d".into(), Some("three base64url parts")),
        ("!!.e30.x".into(), Some("not base64url")),
        (
            format!(
                "{}.e30.{}",
                b64(&json!({"alg":"RS256"})),
                "x".repeat(17_000)
            ),
            Some("16 KiB"),
        ),
    ];
    for (token, refusal) in cases {
        match (Parts::parse(&token), refusal) {
            (Ok(p), None) => {
                assert_eq!(p.issuer, "https://idp.example");
                assert_eq!(p.header.kid.as_deref(), Some("k"));
            }
            (Err(e), Some(needle)) => {
                assert_eq!(e.kind, ErrorKind::Authentication);
                assert!(e.message.contains(needle), "{needle}: {}", e.message);
                assert!(!e.message.contains(&token[..10.min(token.len())]));
            }
            (r, _) => panic!("{token:.40}: {:?}", r.err()),
        }
    }
}

fn idp(domains: &[&str]) -> Idp {
    Idp {
        id: "env".into(),
        name: "sso".into(),
        issuer_url: "https://idp.example".into(),
        audience: "conduit".into(),
        client_id: None,
        client_secret: None,
        auto_provision: false,
        default_role: Role::Member,
        allowed_domains: domains.iter().map(|d| d.to_string()).collect(),
        scopes: None,
        enabled: true,
        created_at: 0,
        deleted: false,
        version: 0,
    }
}

fn claims(extra: Value) -> Claims {
    let mut base = json!({"iss":"https://idp.example","sub":"s","aud":"conduit","exp":1});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(base).unwrap()
}

#[test]
fn email_rules() {
    let cases = [
        (
            json!({"email":"a@corp.example"}),
            vec!["corp.example"],
            true,
        ),
        (
            json!({"email":"a@CORP.Example"}),
            vec!["@corp.example"],
            true,
        ),
        (
            json!({"email":"a@evil.example@corp.example"}),
            vec!["corp.example"],
            true,
        ),
        (
            json!({"email":"a@corp.example@evil.example"}),
            vec!["corp.example"],
            false,
        ),
        (
            json!({"email":"a@sub.corp.example"}),
            vec!["corp.example"],
            false,
        ),
        (
            json!({"preferred_username":"a@corp.example"}),
            vec!["corp.example"],
            true,
        ),
        (json!({"upn":"a@corp.example"}), vec!["corp.example"], true),
        (
            json!({"email":"", "upn":"a@corp.example"}),
            vec!["corp.example"],
            true,
        ),
        (json!({}), vec!["corp.example"], false),
        (json!({"email":"alice"}), vec!["corp.example"], false),
        (json!({}), vec![], true),
        (
            json!({"email":"a@x.example","email_verified":false}),
            vec![],
            false,
        ),
        (
            json!({"email":"a@x.example","email_verified":"false"}),
            vec![],
            false,
        ),
        (
            json!({"email":"a@corp.example","email_verified":true}),
            vec!["corp.example"],
            true,
        ),
    ];
    for (extra, domains, ok) in cases {
        let c = claims(extra.clone());
        let got = email_ok(email(&c).as_deref(), &c, &idp(&domains));
        assert_eq!(got.is_ok(), ok, "{extra} with {domains:?}: {got:?}");
    }
}

#[test]
fn audience_rules() {
    let idp = idp(&[]);
    let expect = Expect {
        idp: &idp,
        audience: "conduit",
        nonce: Some("n1"),
        skew: Duration::from_secs(60),
    };
    let cases = [
        (json!({"nonce":"n1"}), true),
        (json!({"nonce":"n2"}), false),
        (json!({}), false),
        (
            json!({"nonce":"n1","aud":["conduit","other"],"azp":"conduit"}),
            true,
        ),
        (json!({"nonce":"n1","aud":["conduit","other"]}), false),
        (json!({"nonce":"n1","aud":["conduit"],"azp":"other"}), false),
        (json!({"nonce":"n1","aud":"other"}), false),
        (json!({"nonce":"n1","aud":["other"],"azp":"conduit"}), false),
        (json!({"nonce":"n1","iss":"https://idp.example/"}), false),
        (json!({"nonce":"n1","iat": now() + 30}), true),
        (json!({"nonce":"n1","iat": now() + 120}), false),
    ];
    for (extra, ok) in cases {
        let got = claims_ok(&claims(extra.clone()), &expect);
        assert_eq!(got.is_ok(), ok, "{extra}: {got:?}");
    }
}
