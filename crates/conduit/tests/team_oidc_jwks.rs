//! The IdP key sets through the real router, the JWKS fetches counted at an in-process IdP
//! (`oidc_support`): a flood of random `kid`s (concurrent, then sequential) costs one fetch per
//! cool-down, and a rotated key is accepted after exactly one refetch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;
mod team_support;

use std::time::{Duration, Instant};

use conduit_store::Role;
use jsonwebtoken::Algorithm;
use oidc_support::gateway::{assert_refused, env_idp, gateway, messages, Gw};
use oidc_support::{good, keys, Keys, StubIdp};

/// Random `kid`s, concurrent then sequential: refused, and the IdP sees one fetch per cool-down.
async fn flood(gw: &Gw, k: &Keys, idp: &StubIdp, concurrent: usize) {
    let random = || {
        k.rs.sign_as(
            Algorithm::RS256,
            &uuid::Uuid::new_v4().to_string(),
            &good(idp, "flood"),
        )
    };
    let tokens: Vec<String> = (0..concurrent).map(|_| random()).collect();
    let replies = futures::future::join_all(tokens.iter().map(|t| messages(gw, t))).await;
    for (r, t) in replies.iter().zip(&tokens) {
        assert_refused(r, 401, "random kid", t);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_random_kid_flood_costs_the_idp_one_fetch_per_cool_down() {
    let k = keys();
    let idp = StubIdp::start(&[&k.rs]).await;
    let gw = gateway(Some(env_idp(&idp, true, Role::Member)), None).await;
    flood(&gw, &k, &idp, 40).await;
    for _ in 0..20 {
        flood(&gw, &k, &idp, 1).await;
    }
    assert_eq!(
        idp.fetches(),
        1,
        "the first unknown kid fetched, nothing after (10 s cool-down)"
    );
    assert_eq!(
        messages(&gw, &k.rs.sign(&good(&idp, "real"))).await.status,
        200
    );
    assert_eq!(idp.fetches(), 1, "the real key was in that fetch");

    // With a 200 ms cool-down: at most one fetch per cool-down while the flood lasts.
    let idp = StubIdp::start(&[&k.rs]).await;
    let gw = gateway(
        Some(env_idp(&idp, true, Role::Member)),
        Some(Duration::from_millis(200)),
    )
    .await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1000) {
        flood(&gw, &k, &idp, 8).await;
    }
    let bound = 1 + started.elapsed().as_millis() as usize / 200 + 1;
    assert!(
        (2..=bound).contains(&idp.fetches()),
        "{} fetches, bound {bound}",
        idp.fetches()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_accepted_after_exactly_one_refetch() {
    let k = keys();
    let idp = StubIdp::start(&[&k.rs]).await;
    let gw = gateway(
        Some(env_idp(&idp, true, Role::Member)),
        Some(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(
        messages(&gw, &k.rs.sign(&good(&idp, "before")))
            .await
            .status,
        200
    );
    assert_eq!(idp.fetches(), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    idp.publish(&k.es);
    assert_eq!(
        messages(&gw, &k.es.sign(&good(&idp, "after"))).await.status,
        200
    );
    assert_eq!(idp.fetches(), 2, "exactly one refetch for the new kid");
    for (n, key) in [&k.es, &k.rs, &k.es].into_iter().enumerate() {
        let r = messages(&gw, &key.sign(&good(&idp, &format!("cached-{n}")))).await;
        assert_eq!(r.status, 200, "{}", r.json);
    }
    assert_eq!(idp.fetches(), 2, "both keys cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timer_refresh_learns_new_keys_without_a_kid_miss() {
    let k = keys();
    let idp = StubIdp::start(&[&k.rs]).await;
    let gw = gateway(Some(env_idp(&idp, true, Role::Member)), None).await;
    assert_eq!(
        messages(&gw, &k.rs.sign(&good(&idp, "a"))).await.status,
        200
    );
    idp.publish(&k.ed);
    // Within the 10 s cool-down an unknown kid would be refused; the timer's refresh is not.
    gw.team.oidc.refresh_all().await;
    assert_eq!(idp.fetches(), 2);
    let r = messages(&gw, &k.ed.sign(&good(&idp, "b"))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(idp.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_must_name_the_configured_issuer_exactly() {
    let k = keys();
    let idp = StubIdp::start(&[&k.rs]).await;
    let ends = gateway(Some(env_idp(&idp, true, Role::Member)), None).await;
    let endpoints = ends.team.oidc.endpoints("env").await.unwrap();
    assert_eq!(endpoints.token_endpoint, format!("{}/token", idp.issuer));
    assert_eq!(
        endpoints.authorization_endpoint,
        format!("{}/auth", idp.issuer)
    );

    // Configured with a trailing slash; the document says without: unusable, and it says why.
    let mut config = env_idp(&idp, true, Role::Member);
    config.issuer_url = format!("{}/", idp.issuer);
    let gw = gateway(Some(config), None).await;
    let claims = good(&idp, "a");
    let token = k.rs.sign(&oidc_support::set(
        claims,
        "iss",
        format!("{}/", idp.issuer).into(),
    ));
    let r = messages(&gw, &token).await;
    assert_eq!(r.status, 503, "{}", r.json);
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("discovery document names the issuer"),
        "{message}"
    );
    assert!(gw.team.oidc.endpoints("env").await.is_err());
    assert_eq!(
        idp.fetches(),
        0,
        "no key set fetched from an IdP that is not the one configured"
    );
}
