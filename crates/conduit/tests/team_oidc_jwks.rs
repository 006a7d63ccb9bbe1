//! The IdP key sets through the real router, the JWKS fetches counted at an in-process IdP
//! (`oidc_support`): a flood of random `kid`s (concurrent, then sequential) costs one fetch per
//! cool-down, and a rotated key is accepted after exactly one refetch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod oidc_support;

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
