//! The storage port's contract suite against the in-memory table of unit tests, so a unit test
//! on it sees what the embedded store (`functions/local-store/tests/table_contract.rs`) and
//! DynamoDB (`functions/aws/tests/table_contract.rs`) would do.
use std::sync::Arc;

use async_trait::async_trait;
use reserveplace_contract::table::StoreFixture;
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::Table;
use reserveplace_domain::store::memory::MemoryStore;

struct Memory(MemoryStore);

#[async_trait]
impl StoreFixture for Memory {
    async fn table(&self, name: &str) -> Arc<dyn Table> {
        self.0.table(name)
    }

    async fn committed_events(&self) -> Vec<DomainEvent> {
        self.0.events()
    }
}

reserveplace_contract::table_contract!(async { Memory(MemoryStore::new()) });
