//! The storage port's contract suite against the embedded store (the same suite runs against
//! DynamoDB in `functions/aws/tests/table_contract.rs`).
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use reserveplace_contract::table::StoreFixture;
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::Table;
use reserveplace_local_store::Database;

/// A store in a scratch directory, removed on drop.
struct LocalStore {
    dir: PathBuf,
    db: Arc<Database>,
}

impl Drop for LocalStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture() -> LocalStore {
    let dir = std::env::temp_dir().join(format!("rp-contract-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let db = Database::open(&dir.join("store.sqlite")).expect("open database");
    LocalStore { dir, db }
}

#[async_trait]
impl StoreFixture for LocalStore {
    async fn table(&self, name: &str) -> Arc<dyn Table> {
        self.db.table(name)
    }

    async fn committed_events(&self) -> Vec<DomainEvent> {
        self.db
            .event_log(None)
            .await
            .expect("event log")
            .into_iter()
            .map(|e| e.event)
            .collect()
    }
}

reserveplace_contract::table_contract!(fixture());
