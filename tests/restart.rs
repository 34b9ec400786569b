//! Data, pending events and running sagas survive a kill -9 and restart on the same data dir.

use crate::support::{Local, day};

#[tokio::test]
async fn a_restart_keeps_data_and_finishes_waiting_sagas() {
    let rt = Local::start("restart", &[]).await;
    let instant = rt.place("olivia", 2, 10_000, true).await;
    let request = rt.place("oscar", 2, 20_000, false).await;
    let (_, a) = rt.reserve("alice", &instant, &day(3), &day(5), 1).await;
    let a = a["reservationId"].as_str().expect("id").to_string();
    rt.wait_status("alice", &a, "CONFIRMED", None).await;
    let (_, b) = rt.reserve("bob", &request, &day(3), &day(4), 1).await;
    let b = b["reservationId"].as_str().expect("id").to_string();
    rt.wait_status("bob", &b, "AWAITING_OWNER", None).await;
    let events_before = rt.events(None).await.len();

    let rt = rt.restart().await;
    // Data survived.
    assert_eq!(rt.reservation("alice", &a).await["status"], "CONFIRMED");
    assert_eq!(rt.held("olivia", &instant, &day(3)).await, 1);
    assert_eq!(rt.held("olivia", &instant, &day(4)).await, 1);
    assert!(
        rt.events(None).await.len() >= events_before,
        "the event log survived"
    );
    // The saga waiting for the owner survived too: the owner's decision completes it.
    let (s, d) = rt
        .call(
            "POST",
            &format!("/v1/owner/reservations/{b}/confirm"),
            Some("oscar"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{d}");
    rt.wait_status("bob", &b, "CONFIRMED", None).await;
    // And new work is accepted after the restart.
    let (_, c) = rt.reserve("carol", &instant, &day(3), &day(4), 1).await;
    rt.wait_status(
        "carol",
        c["reservationId"].as_str().expect("id"),
        "CONFIRMED",
        None,
    )
    .await;
    assert_eq!(rt.held("olivia", &instant, &day(3)).await, 2);
}
