//! The signer across instances sharing one store: a key another instance made is unknown until
//! a reload, then its tokens verify; rotation adds a key without dropping the old one.

use std::time::Duration;

use conduit::team::oauth::Signer;

use crate::support::{env, now};

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn instances_share_keys_and_pick_up_a_rotation_on_reload() {
    let env = env().await;
    let first = Signer::load(&env.store, 30 * DAY, HOUR).await.unwrap();
    let before = env.store.signing_keys(now()).await.unwrap();
    assert_eq!(before.len(), 1, "a young key is reused, not remade");
    let (token, exp) = first.sign("u1", "f1").unwrap();
    assert!((exp - now() - 3600).abs() <= 1);
    let claims = env.team.signer.verify(&token).unwrap();
    assert_eq!(
        (claims.user_id.as_str(), claims.family_id.as_str()),
        ("u1", "f1")
    );

    // Another instance whose rotation is due makes a second key; the old one still verifies.
    let rotating = Signer::load(&env.store, Duration::ZERO, HOUR)
        .await
        .unwrap();
    let after = env.store.signing_keys(now()).await.unwrap();
    assert_eq!(after.len(), 2);
    // (Both were made within a second: pick the new one by kid, not by order.)
    let new_kid = &after.iter().find(|k| k.kid != before[0].kid).unwrap().kid;
    assert!(!first.owns(new_kid), "not before a reload");
    first.reload(&env.store).await.unwrap();
    assert!(first.owns(new_kid) && first.owns(&before[0].kid));
    assert_eq!(rotating.verify(&token).unwrap().user_id, "u1");
    // Both keys are in the published set.
    let published = first.jwks();
    let kids: Vec<&str> = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&new_kid.as_str()) && kids.contains(&before[0].kid.as_str()));
    // Garbage is refused before any key is looked at.
    for bad in ["", "a.b.c", "not a token", &"x".repeat(20_000)] {
        assert!(first.verify(bad).is_err());
    }
}
