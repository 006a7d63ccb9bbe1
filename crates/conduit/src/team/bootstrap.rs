//! The first admin, with no default password: at `serve --team` start from
//! `CONDUIT_ADMIN_PASSWORD` (once), or from `conduit team init` (a generated password shown
//! once); `conduit team reset-admin` is the break-glass path on the server host. Every write is
//! audited as `cli@<hostname>`.

use anyhow::{anyhow, bail, Context};
use conduit_store::{Actor, NewUser, Role, Store, User};

use super::password;

/// The user name of the bootstrap admin.
pub const ADMIN: &str = "admin";
/// Generated passwords: 24 characters of `[A-Za-z0-9]` (≈ 143 bits).
const GENERATED_CHARS: usize = 24;

/// `cli@<hostname>`: who the audit log says did a server-host write.
pub fn cli_actor() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("cli@{host}")
}

fn actor(name: &str) -> Actor {
    Actor {
        name: name.to_owned(),
        user_id: None,
        ip: None,
    }
}

/// At serve start: create `admin` from `admin_password` (`CONDUIT_ADMIN_PASSWORD`) unless a
/// user `admin` with a password exists; with neither, warn and serve anyway (keys still work).
pub async fn on_serve(store: &Store, admin_password: Option<&str>) -> anyhow::Result<()> {
    let admin = store.user_by_subject(ADMIN).await?;
    if admin.as_ref().is_some_and(|u| u.password_hash.is_some()) {
        return Ok(());
    }
    match admin_password.filter(|p| !p.is_empty()) {
        Some(p) => {
            if p.chars().count() < password::MIN_CHARS {
                bail!(
                    "CONDUIT_ADMIN_PASSWORD is too short: give at least {} characters (or unset \
                     it and run `conduit team init` to generate one)",
                    password::MIN_CHARS
                );
            }
            set_admin(store, admin, p, "bootstrap", &cli_actor()).await?;
            tracing::info!("created the user {ADMIN} from CONDUIT_ADMIN_PASSWORD");
        }
        None => tracing::warn!(
            "no admin password is set: run `conduit team init` on this host (or start once with \
             CONDUIT_ADMIN_PASSWORD) to create the user {ADMIN}; virtual keys work meanwhile"
        ),
    }
    Ok(())
}

/// `conduit team init`: create `admin` with a generated password and return it (to show
/// once). Refused when a user `admin` with a password exists.
pub async fn init(store: &Store, actor_name: &str) -> anyhow::Result<String> {
    let admin = store.user_by_subject(ADMIN).await?;
    if admin.as_ref().is_some_and(|u| u.password_hash.is_some()) {
        bail!(
            "the user {ADMIN} already has a password: sign in with it, or run `conduit team \
             reset-admin` on this host for a new one"
        );
    }
    let generated = password::generate(GENERATED_CHARS);
    set_admin(store, admin, &generated, "bootstrap", actor_name).await?;
    Ok(generated)
}

/// `conduit team reset-admin`: a new generated password for `admin` (created if missing,
/// reactivated, role admin, its sessions ended), returned to show once.
pub async fn reset_admin(store: &Store, actor_name: &str) -> anyhow::Result<String> {
    let admin = store.user_by_subject(ADMIN).await?;
    let generated = password::generate(GENERATED_CHARS);
    set_admin(store, admin, &generated, "admin.password", actor_name).await?;
    Ok(generated)
}

/// Give `admin` (creating it when `existing` is `None`) the password `plain`, role admin,
/// active; `action` names a password change in the audit log.
async fn set_admin(
    store: &Store,
    existing: Option<User>,
    plain: &str,
    action: &str,
    actor_name: &str,
) -> anyhow::Result<()> {
    let owned = plain.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&owned))
        .await
        .context("hashing the password")?
        .map_err(|e| anyhow!(e.message))?;
    let who = actor(actor_name);
    let Some(user) = existing else {
        let new = NewUser {
            subject: ADMIN.to_owned(),
            email: None,
            role: Role::Admin,
            team_id: None,
            password_hash: Some(hash),
        };
        store.create_user(&new, &who).await?;
        return Ok(());
    };
    store.set_password(&user.id, &hash, action, &who).await?;
    if user.role != Role::Admin {
        store.set_user_role(&user.id, Role::Admin, &who).await?;
    }
    if !user.active {
        store.set_user_active(&user.id, true, &who).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use conduit_store::{CredentialKind, NewCredential};

    async fn temp_store() -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("conduit-boot-{}", uuid::Uuid::new_v4()));
        let store = Store::open_sqlite(&dir.join("team.db")).await.unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    async fn admin(store: &Store) -> User {
        store.user_by_subject(ADMIN).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn serve_start_creates_the_admin_once() {
        let (store, dir) = temp_store().await;
        on_serve(&store, None).await.unwrap();
        on_serve(&store, Some("")).await.unwrap();
        assert!(store.user_by_subject(ADMIN).await.unwrap().is_none());
        let short = on_serve(&store, Some("elevenchars")).await.unwrap_err();
        assert!(short.to_string().contains("at least 12"), "{short}");

        on_serve(&store, Some("first password")).await.unwrap();
        let a = admin(&store).await;
        assert_eq!((a.role, a.active), (Role::Admin, true));
        let phc = a.password_hash.unwrap();
        assert!(password::verify("first password", &phc));
        // Later starts leave it alone, whatever the variable says.
        on_serve(&store, Some("second password")).await.unwrap();
        assert_eq!(admin(&store).await.password_hash.unwrap(), phc);
        let refused = init(&store, "cli@test").await.unwrap_err();
        assert!(refused.to_string().contains("reset-admin"), "{refused}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn init_then_reset_admin() {
        let (store, dir) = temp_store().await;
        let first = init(&store, "cli@test").await.unwrap();
        assert_eq!(first.len(), GENERATED_CHARS);
        let a = admin(&store).await;
        assert!(password::verify(
            &first,
            a.password_hash.as_deref().unwrap()
        ));

        // Break the admin every way reset-admin repairs: demoted, deactivated, signed in.
        let who = actor("cli@test");
        store
            .set_user_role(&a.id, Role::Member, &who)
            .await
            .unwrap();
        store.set_user_active(&a.id, false, &who).await.unwrap();
        let session = NewCredential {
            kind: CredentialKind::Session,
            digest: "ab".repeat(32),
            prefix: "cst_abababababab...".into(),
            name: "session".into(),
            user_id: Some(a.id.clone()),
            team_id: None,
            rate_limit_rpm: None,
            expires_at: None,
        };
        let session = store.create_credential(&session, &who).await.unwrap();

        let second = reset_admin(&store, "cli@test").await.unwrap();
        assert_ne!(first, second);
        let a = admin(&store).await;
        assert_eq!((a.role, a.active), (Role::Admin, true));
        let phc = a.password_hash.unwrap();
        assert!(password::verify(&second, &phc) && !password::verify(&first, &phc));
        let ended = store.credential(&session.id).await.unwrap().unwrap();
        assert!(ended.revoked_at.is_some(), "the admin's sessions end");
        let audit = store.list_audit(20, None).await.unwrap();
        assert!(audit
            .iter()
            .any(|e| e.action == "admin.password" && e.actor == "cli@test"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
