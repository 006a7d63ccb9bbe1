//! Cases: authorization code + PKCE (`/oauth/authorize`): the request row and its steps (bound
//! to one browser, never taken by the `/auth/cli/*` poll), the code redeemed once (a wrong
//! verifier or redirect URI spends it, an expired or unknown one issues nothing), two racing
//! redemptions with one winner.

use conduit_store::{
    AuthorizeRequest, CliPoll, CliSession, CliStatus, CodeExchange, CodeRedemption, StoreError,
};

use crate::support::{actor, audit_actions, digest, new_user, now, race2, Db};

const REDIRECT: &str = "http://127.0.0.1:43111/callback";
const BROWSER: &str = "browser-1";

fn request() -> AuthorizeRequest {
    AuthorizeRequest {
        redirect_uri: REDIRECT.into(),
        state: Some("st-1".into()),
    }
}

/// An authorize request for verifier `verifier`, signed in as `user_id` and connected from its
/// browser with `code` valid until `code_expires_at`.
async fn approved(
    db: &Db,
    user_id: &str,
    verifier: &str,
    code: &str,
    code_expires_at: i64,
) -> CliSession {
    let s = &db.store;
    let t = now();
    let cli = s
        .create_authorize_session(&digest(verifier), &digest(BROWSER), t + 300, request())
        .await
        .unwrap();
    assert!(s
        .verify_cli_session(&cli.id, user_id, t)
        .await
        .unwrap()
        .is_some());
    let took = s
        .approve_authorization(
            &cli.id,
            &digest(BROWSER),
            &digest(code),
            code_expires_at,
            t,
            &actor(),
        )
        .await
        .unwrap();
    assert!(took, "approve {verifier}");
    cli
}

/// Present `code` with `verifier` and `redirect_uri` at `at`.
async fn redeem(
    db: &Db,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    at: i64,
) -> CodeRedemption {
    let (code_digest, verifier_digest) = (digest(code), digest(verifier));
    let exchange = CodeExchange {
        code_digest: &code_digest,
        verifier_digest: &verifier_digest,
        redirect_uri,
    };
    let refresh = digest(&format!("refresh-{code}-{at}-{verifier}"));
    db.store
        .redeem_authorization_code(exchange, &refresh, at + 3600, at)
        .await
        .unwrap()
}

pub async fn authorize_request_bound_and_apart_from_the_cli_poll(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let (challenge, browser) = (digest("v-1"), digest(BROWSER));
    let cli = s
        .create_authorize_session(&challenge, &browser, t + 300, request())
        .await
        .unwrap();
    assert_eq!(
        (cli.status, cli.authorize.clone()),
        (CliStatus::Pending, Some(request()))
    );
    assert_eq!(s.cli_session(&cli.id).await.unwrap(), Some(cli.clone()));
    // One challenge, one sign-in, whichever door made it.
    let err = s
        .create_cli_session(&challenge, &browser, t + 300)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let no_state = AuthorizeRequest {
        state: None,
        ..request()
    };
    let bare = s
        .create_authorize_session(&digest("v-2"), &browser, t + 300, no_state.clone())
        .await
        .unwrap();
    let bare = s.cli_session(&bare.id).await.unwrap().unwrap();
    assert_eq!(bare.authorize, Some(no_state));

    let approve = |id: String, browser: String, code: &'static str| async move {
        s.approve_authorization(&id, &browser, &digest(code), t + 120, t, &actor())
            .await
            .unwrap()
    };
    assert!(
        !approve(cli.id.clone(), browser.clone(), "c0").await,
        "not signed in yet"
    );
    let verified = s.verify_cli_session(&cli.id, &u.id, t).await.unwrap();
    assert_eq!(verified.unwrap().authorize, Some(request()));
    // The `/auth/cli/*` steps never touch an authorize request.
    assert!(!s.complete_cli_session(&cli.id, &browser, t).await.unwrap());
    let other = digest("browser-2");
    assert!(
        !approve(cli.id.clone(), other.clone(), "c0").await,
        "another browser"
    );
    assert!(!s
        .deny_authorization(&cli.id, &other, t, &actor())
        .await
        .unwrap());
    assert!(approve(cli.id.clone(), browser.clone(), "c1").await);
    assert!(
        !approve(cli.id.clone(), browser.clone(), "c2").await,
        "once"
    );
    assert!(!s
        .deny_authorization(&cli.id, &browser, t, &actor())
        .await
        .unwrap());
    let row = s.cli_session(&cli.id).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.expires_at),
        (CliStatus::Complete, t + 120),
        "the row lives as long as its code"
    );
    assert_eq!(
        s.take_cli_session(&challenge, t).await.unwrap(),
        CliPoll::NotFound
    );

    // Cancelled: consumed, no code.
    s.verify_cli_session(&bare.id, &u.id, t).await.unwrap();
    assert!(s
        .deny_authorization(&bare.id, &browser, t, &actor())
        .await
        .unwrap());
    assert!(!approve(bare.id.clone(), browser.clone(), "c3").await);
    assert_eq!(
        s.cli_session(&bare.id).await.unwrap().unwrap().status,
        CliStatus::Consumed
    );
    assert_eq!(
        audit_actions(s).await,
        ["user.create", "authorize.approve", "authorize.deny"]
    );
}

/// Each row: the redemptions of one approved code, in order, and what each gets.
pub async fn authorization_code_redeemed_once_and_spent_by_mistakes(db: &Db) {
    let s = &db.store;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    let other_uri = "http://127.0.0.1:43112/callback";
    type Try = (&'static str, &'static str, i64, &'static str);
    // (case, [(verifier, redirect_uri, seconds after t, expected)])
    let cases: &[(&str, &[Try])] = &[
        (
            "right",
            &[("v", REDIRECT, 0, "issued"), ("v", REDIRECT, 1, "invalid")],
        ),
        (
            "wrong verifier",
            &[
                ("x", REDIRECT, 0, "verifier"),
                ("v", REDIRECT, 1, "invalid"),
            ],
        ),
        (
            "wrong redirect",
            &[
                ("v", other_uri, 0, "redirect"),
                ("v", REDIRECT, 1, "invalid"),
            ],
        ),
        (
            "redirect differs by a slash",
            &[("v", "http://127.0.0.1:43111/callback/", 0, "redirect")],
        ),
        (
            "at its expiry",
            &[
                ("v", REDIRECT, 120, "invalid"),
                ("v", REDIRECT, 0, "issued"),
            ],
        ),
    ];
    for (n, (case, tries)) in cases.iter().enumerate() {
        let verifier = format!("v{n}");
        let code = format!("code-{n}");
        approved(db, &u.id, &verifier, &code, t + 120).await;
        for (i, (v, uri, after, want)) in tries.iter().enumerate() {
            // "v" is this case's verifier; anything else a wrong one.
            let presented = if *v == "v" {
                verifier.clone()
            } else {
                (*v).to_owned()
            };
            let got = redeem(db, &code, &presented, uri, t + after).await;
            let kind = match &got {
                CodeRedemption::Issued { user_id, family_id } => {
                    assert_eq!(user_id, &u.id, "{case}");
                    assert!(s.family_alive(family_id, t).await.unwrap(), "{case}");
                    "issued"
                }
                CodeRedemption::WrongVerifier => "verifier",
                CodeRedemption::WrongRedirectUri => "redirect",
                CodeRedemption::Invalid => "invalid",
            };
            assert_eq!(kind, *want, "{case}, try {i}: {got:?}");
        }
    }
    assert_eq!(
        redeem(db, "unknown", "v0", REDIRECT, t).await,
        CodeRedemption::Invalid
    );

    // Connected, then the user deactivated: spent, and no tokens.
    approved(db, &u.id, "v-late", "code-late", t + 120).await;
    s.set_user_active(&u.id, false, &actor()).await.unwrap();
    for _ in 0..2 {
        let got = redeem(db, "code-late", "v-late", REDIRECT, t).await;
        assert_eq!(got, CodeRedemption::Invalid);
    }
}

/// Two redemptions racing on one code (two store handles): exactly one gets the tokens.
pub async fn authorization_code_race_issues_once(db: &Db) {
    let s = &db.store;
    let other = db.second_handle().await;
    let t = now();
    let u = s.create_user(&new_user("u"), &actor()).await.unwrap();
    for round in 0..8 {
        let (verifier, code) = (format!("v-{round}"), format!("code-{round}"));
        approved(db, &u.id, &verifier, &code, t + 120).await;
        let outcomes = race2(s, &other, |store, who| {
            let (code_digest, verifier_digest) = (digest(&code), digest(&verifier));
            let refresh = digest(&format!("refresh-{round}-{who}"));
            async move {
                let exchange = CodeExchange {
                    code_digest: &code_digest,
                    verifier_digest: &verifier_digest,
                    redirect_uri: REDIRECT,
                };
                store
                    .redeem_authorization_code(exchange, &refresh, t + 3600, t)
                    .await
                    .unwrap()
            }
        })
        .await;
        let issued = outcomes
            .iter()
            .filter(|o| matches!(o, CodeRedemption::Issued { .. }))
            .count();
        assert_eq!(issued, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.contains(&CodeRedemption::Invalid),
            "round {round}: {outcomes:?}"
        );
    }
    other.close().await;
}
