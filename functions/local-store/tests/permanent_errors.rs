//! Failures that a retry cannot fix are reported as permanent (`Misconfigured`), like the AWS
//! adapter's: a stored item that no longer parses stays unparsable on every read.
use reserveplace_domain::store::{Cond, Key, StoreError, Write};
use reserveplace_local_store::Database;
use serde_json::json;

struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn a_corrupt_item_is_a_permanent_error_on_read_and_on_write() {
    let dir = Scratch(std::env::temp_dir().join(format!("rp-permanent-{}", uuid::Uuid::new_v4())));
    let path = dir.0.join("db.sqlite");
    let db = Database::open(&path).expect("open");
    let table = db.table("t");
    let item = json!({"pk": "P", "sk": "S", "n": 1})
        .as_object()
        .cloned()
        .expect("object");
    table
        .transact(vec![Write::Put { item, cond: None }], vec![])
        .await
        .expect("put");

    // Damage the stored body behind the store's back, as a bad migration or disk fault would.
    let conn = rusqlite::Connection::open(&path).expect("second connection");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    let changed = conn
        .execute(
            "UPDATE items SET body = 'not json' WHERE pk = 'P' AND sk = 'S'",
            [],
        )
        .expect("corrupt");
    assert_eq!(changed, 1);
    drop(conn);

    let read = table.get(&Key::new("P", "S")).await;
    assert!(
        matches!(&read, Err(StoreError::Misconfigured(m)) if m.contains("corrupt item")),
        "{read:?}"
    );
    // A conditional write has to read the item too.
    let write = table
        .transact(
            vec![Write::Update {
                key: Key::new("P", "S"),
                set: Default::default(),
                add: vec![("n".into(), 1)],
                cond: Some(Cond::Exists),
            }],
            vec![],
        )
        .await;
    assert!(
        matches!(&write, Err(StoreError::Misconfigured(_))),
        "{write:?}"
    );
}
