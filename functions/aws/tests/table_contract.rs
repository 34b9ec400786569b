//! The storage port's contract suite against the DynamoDB adapter, over the AWS wire protocol on
//! the emulator. Every table is created from `template.yaml`'s own definition.
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use reserveplace_aws::DynamoDbTable;
use reserveplace_contract::table::StoreFixture;
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::Table;

struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    prefix: String,
    tables: Mutex<HashMap<String, Arc<dyn Table>>>,
}

async fn fixture() -> DynamoDbStore {
    DynamoDbStore {
        client: aws_sdk_dynamodb::Client::new(&support::sdk().await),
        prefix: uuid::Uuid::new_v4().simple().to_string(),
        tables: Mutex::new(HashMap::new()),
    }
}

impl DynamoDbStore {
    fn physical(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }
}

#[async_trait]
impl StoreFixture for DynamoDbStore {
    async fn table(&self, name: &str) -> Arc<dyn Table> {
        if let Some(t) = self.tables.lock().expect("lock").get(name) {
            return t.clone();
        }
        // Every context table has the same layout; the contract uses the reservation table's.
        let def = &support::wiring().tables["ReservationTable"];
        support::create_table(&self.client, def, &self.physical(name)).await;
        let t: Arc<dyn Table> =
            Arc::new(DynamoDbTable::new(self.client.clone(), self.physical(name)));
        self.tables
            .lock()
            .expect("lock")
            .insert(name.to_owned(), t.clone());
        t
    }

    async fn committed_events(&self) -> Vec<DomainEvent> {
        let names: Vec<String> = self.tables.lock().expect("lock").keys().cloned().collect();
        let mut events = Vec::new();
        for name in names {
            let out = self
                .client
                .scan()
                .table_name(self.physical(&name))
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", AttributeValue::S("OUTBOX#".into()))
                .send()
                .await
                .expect("scan outbox");
            for item in out.items() {
                if let Some(AttributeValue::S(body)) = item.get("event") {
                    events.push(serde_json::from_str(body).expect("outbox event"));
                }
            }
        }
        events
    }
}

reserveplace_contract::table_contract!(fixture());
