//! Retention as on AWS: the local store lets go of what AWS would no longer keep, and nothing
//! else. At `--time-scale 1000000` the outbox's 7 days pass in under a second and Step Functions'
//! 90 days in about eight.
use std::time::{Duration, Instant};

use crate::support::{Local, day};

#[tokio::test]
async fn delivered_events_and_finished_executions_go_the_reservation_stays() {
    let rt = Local::start("retention", &["--time-scale", "1000000"]).await;
    let place = rt.place("olivia", 2, 10_000, true).await;
    let (s, r) = rt.reserve("alice", &place, &day(10), &day(12), 1).await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id").to_owned();
    rt.wait_status("alice", &id, "CONFIRMED", None).await;

    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let events = rt.events(Some(&id)).await;
        let (status, _) = rt
            .call("GET", &format!("/_local/executions/{id}"), None, None)
            .await;
        if events.is_empty() && status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still kept: {} events, execution {status}",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The data itself is the application's, not retention's.
    let r = rt.reservation("alice", &id).await;
    assert_eq!(r["status"], "CONFIRMED");
    let (s, m) = rt
        .call("GET", &format!("/v1/mypages/{id}"), Some("alice"), None)
        .await;
    assert_eq!(
        (s, m["reservationStatus"].as_str()),
        (200, Some("CONFIRMED"))
    );
    assert_eq!(rt.held("olivia", &place, &day(10)).await, 1);
    // New events are logged again, and the log says where it now starts.
    let (s, _) = rt
        .call(
            "POST",
            &format!("/v1/reservations/{id}/cancel"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, since, log) = rt
        .get_header("/_local/events", None, "x-event-log-since")
        .await;
    assert_eq!(s, 200);
    match log.as_array().and_then(|l| l.first()) {
        Some(oldest) => assert_eq!(since.as_deref(), oldest["time"].as_str(), "{log}"),
        None => assert_eq!(since, None),
    }
}
