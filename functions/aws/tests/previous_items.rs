//! Items of the previous release's shape, on DynamoDB over the wire: every item of the data
//! directory the previous release wrote (`tests/fixtures/data-1b37cf4.sql`) is put into tables
//! created from `template.yaml`, and read through the adapter by this release's use cases: a place
//! without currency, zone or plans is one standard FLEXIBLE plan in KRW and Asia/Seoul, a
//! reservation keeps its amount, and search ranks the old catalogue items.
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use reserveplace_aws::DynamoDbTable;
use reserveplace_domain::clock::SystemClock;
use reserveplace_domain::place::PlaceService;
use reserveplace_domain::reservation::ReservationService;
use reserveplace_domain::search::SearchService;
use reserveplace_domain::store::{Item, Table, Write};
use reserveplace_domain::terms::{CancellationPolicy, Currency, STANDARD_PLAN_ID};

const HANOK: &str = "01a24bc3-05fd-7446-b46b-90448c8ccc2c";
const HANOK_STAY: &str = "01a24bc3-0f12-727a-abd1-1cf62a474927";

/// `(table, item)` of every `INSERT INTO "items"` row of the dump (the body is the item).
fn previous_items() -> Vec<(String, Item)> {
    let dump = include_str!("../../../tests/fixtures/data-1b37cf4.sql");
    dump.lines()
        .filter_map(|line| {
            let row = line.strip_prefix("INSERT INTO \"items\" VALUES('")?;
            let (table, rest) = row.split_once('\'')?;
            let body = rest.get(rest.find("'{")? + 1..rest.rfind("}'")? + 1)?;
            let item: Item = serde_json::from_str(&body.replace("''", "'")).ok()?;
            Some((table.to_string(), item))
        })
        .collect()
}

#[tokio::test]
async fn items_of_the_previous_release_read_as_the_standard_terms() {
    let client = aws_sdk_dynamodb::Client::new(&support::sdk().await);
    let prefix = uuid::Uuid::new_v4().simple().to_string();
    let mut tables: HashMap<String, Arc<dyn Table>> = HashMap::new();
    let items = previous_items();
    assert!(
        items.len() > 30,
        "the dump has the previous release's items"
    );
    // The local runtime's own records (saga executions) have no table on AWS.
    let defined = &support::wiring().tables;
    for (name, item) in items.into_iter().filter(|(t, _)| defined.contains_key(t)) {
        if !tables.contains_key(&name) {
            let physical = format!("{prefix}-{name}");
            support::create_table(&client, &defined[&name], &physical).await;
            tables.insert(
                name.clone(),
                Arc::new(DynamoDbTable::new(client.clone(), physical)),
            );
        }
        let put = Write::Put { item, cond: None };
        tables[&name]
            .transact(vec![put], vec![])
            .await
            .expect("put");
    }
    let clock = Arc::new(SystemClock);
    let places = PlaceService::new(tables["PlaceTable"].clone(), clock.clone(), 60);
    let place = places
        .get_place(HANOK)
        .await
        .expect("read")
        .expect("the place");
    assert_eq!(place.facts.currency, Currency::KRW);
    assert_eq!(place.facts.time_zone.0, "Asia/Seoul");
    assert_eq!(place.facts.rate_plans.len(), 1);
    assert_eq!(place.facts.rate_plans[0].rate_plan_id, STANDARD_PLAN_ID);
    assert_eq!(
        place.facts.rate_plans[0].cancellation_policy,
        CancellationPolicy::Flexible
    );

    let reservations = ReservationService::new(
        tables["ReservationTable"].clone(),
        tables["PlaceTable"].clone(),
        clock.clone(),
    );
    let r = reservations
        .get(HANOK_STAY)
        .await
        .expect("read")
        .expect("the stay");
    assert_eq!((r.amount, r.terms.currency), (220_000, Currency::KRW));
    assert!(r.terms.cancellation_policy.is_none());

    // The old catalogue items rank and price as the standard plan (a stay a month ahead).
    let search = SearchService::new(tables["SearchTable"].clone(), clock);
    let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
    let q: BTreeMap<String, String> = [
        ("city", "Upgradeville".to_string()),
        ("checkIn", day.to_string()),
        ("checkOut", (day + time::Duration::days(1)).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let page = search.search(&q).await.expect("search");
    assert_eq!(page.items.len(), 2);
    assert!(page.items.iter().all(|h| h.rate_plan_id == STANDARD_PLAN_ID
        && h.cancellation_policy.name == "FLEXIBLE"
        && h.currency == Currency::KRW));
}
