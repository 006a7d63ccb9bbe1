//! Opening a SQLite store: every URL form names the same file, created private (0600 in a
//! 0700 directory), in WAL mode; placeholders `$1…` work through the Any driver (every query of
//! the store uses them, so the repository cases cover them too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use conduit_store::{Engine, Store};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn every_url_form_opens_the_same_private_file() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory name with characters a URL would read as syntax.
    let dir = tmp.path().join("a dir?with#odd%chars").join("data");
    let path = dir.join("team.db");
    let encoded = path
        .display()
        .to_string()
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23")
        .replace(' ', "%20");
    let first = Store::open(&format!("sqlite://{encoded}?mode=rwc"))
        .await
        .unwrap();
    assert_eq!(first.engine(), Engine::Sqlite);
    first.migrate().await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir), 0o700, "a missing parent is created private");
    let team = first
        .create_team(
            "t",
            &conduit_store::Actor {
                name: "cli@host".into(),
                user_id: None,
                ip: None,
            },
        )
        .await
        .unwrap();
    let wal = format!("{}-wal", path.display());
    assert!(Path::new(&wal).exists(), "WAL journal");
    assert_eq!(mode(Path::new(&wal)), 0o600);
    for url in [format!("sqlite:{encoded}"), path.display().to_string()] {
        let other = Store::open(&url).await.unwrap();
        other.ready().await.unwrap();
        assert_eq!(
            other.list_teams().await.unwrap(),
            vec![team.clone()],
            "{url}"
        );
        other.close().await;
    }
    first.close().await;
}

#[tokio::test]
async fn an_existing_file_is_narrowed_to_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("team.db");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let dir_mode = mode(tmp.path());
    let store = Store::open_sqlite(&path).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        mode(tmp.path()),
        dir_mode,
        "an existing directory is left alone"
    );
}

#[tokio::test]
async fn memory_and_empty_urls_are_refused() {
    for url in ["sqlite::memory:", "sqlite://", ""] {
        assert!(Store::open(url).await.is_err(), "{url:?}");
    }
}
