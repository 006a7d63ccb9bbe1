//! Migrations on a fresh Postgres database: three instances starting together apply each
//! migration once (the migrator's advisory lock), and all are ready afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use conduit_store::testing::TempDb;
use conduit_store::{Store, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_migrate_one_postgres_database_together() {
    let db = TempDb::create()
        .await
        .expect("the test Postgres must be reachable");
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Store::open(db.url()).await.unwrap());
    }
    match stores[0].ready().await.unwrap_err() {
        StoreError::Internal(msg) => assert!(msg.starts_with("migrations:"), "{msg}"),
        other => panic!("expected the migrations reason, got {other:?}"),
    }
    let tasks: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| tokio::spawn(async move { s.migrate().await }))
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for s in &stores {
        s.ready().await.unwrap();
        assert_eq!(s.version().await.unwrap(), 0, "the seed row inserted once");
        s.close().await;
    }
    db.close().await.unwrap();
}
