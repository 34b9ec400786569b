//! The seed README's httpie walkthrough, unchanged (every value a JSON string, as httpie sends it),
//! with the event order of `docs/design.md` (section 2) for each reservation.
mod support;

use serde_json::json;
use support::{Local, assert_subsequence};

#[tokio::test]
async fn seed_walkthrough_runs_unchanged() {
    let rt = Local::start("seed", &[]).await;
    // http POST localhost:8080/reservationManagements placeId=1 stock=1
    let (s, b) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": "1", "stock": "1"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["stock"], 1);
    rt.wait_for("catalogue", || async {
        rt.events(None)
            .await
            .iter()
            .any(|e| e["detail-type"] == "PlaceRegistered")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // http POST localhost:8080/accommodations placeNm=test01 status=예약처리 usrId=2 strDt=20240221 endDt=20240222 qty=1 amount=5000 placeId=1
    let body = |usr: &str| json!({"placeNm": "test01", "status": "예약처리", "usrId": usr, "strDt": "20240221", "endDt": "20240222", "qty": "1", "amount": "5000", "placeId": "1"});
    let (s, first) = rt
        .call("POST", "/accommodations", None, Some(body("2")))
        .await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["orderId"], 1);
    assert_eq!(first["status"], "예약처리");
    assert_eq!(first["amount"], 5000);
    rt.wait_for("mypage 1 예약완료", || async {
        let (s, m) = rt.call("GET", "/mypages/1", None, None).await;
        s == 200 && m["status"] == "예약완료"
    })
    .await;
    let (_, m) = rt.call("GET", "/mypages/1", None, None).await;
    assert_eq!(m["placeNm"], "test01");
    assert_eq!(m["usrId"], "2");
    assert_eq!(m["placeId"], 1);
    assert_eq!(m["amount"], 5000);

    // http POST ... usrId=33 (same night, stock exhausted)
    let (s, second) = rt
        .call("POST", "/accommodations", None, Some(body("33")))
        .await;
    assert_eq!(s, 201, "{second}");
    assert_eq!(second["orderId"], 2);
    rt.wait_for("mypage 2 예약취소", || async {
        let (s, m) = rt.call("GET", "/mypages/2", None, None).await;
        s == 200 && m["status"] == "예약취소" && m["payStatus"] == "결제취소"
    })
    .await;
    let (_, m2) = rt.call("GET", "/mypages/2", None, None).await;
    assert_eq!(m2["amount"], 5000, "the seed left a null amount here");

    assert_subsequence(
        &rt.event_names("1").await,
        &[
            "ReservationPlaced",
            "PaymentApproved",
            "ReservationConfirmed",
            "ReservationStatusChanged",
        ],
    );
    let confirmed = rt.events(Some("1")).await;
    assert!(
        confirmed
            .iter()
            .any(|e| e["detail-type"] == "ReservationStatusChanged"
                && e["detail"]["status"] == "CONFIRMED")
    );
    assert_subsequence(
        &rt.event_names("2").await,
        &[
            "ReservationPlaced",
            "PaymentApproved",
            "ReservationCancelConfirmed",
            "PaymentCancelApproved",
            "ReservationCanceled",
        ],
    );
    // Numbers work as numbers too.
    let (s, _) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": 2, "stock": 3})),
        )
        .await;
    assert_eq!(s, 201);
    // Updating the stock of an existing place answers 200.
    let (s, b) = rt
        .call(
            "POST",
            "/reservationManagements",
            None,
            Some(json!({"placeId": "2", "stock": "5"})),
        )
        .await;
    assert_eq!((s, b["stock"].as_i64()), (200, Some(5)));
}
