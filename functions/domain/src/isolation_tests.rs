//! Unit tests of the seed facade's own world, random idempotent ids, order numbers and the
//! catalogue wait after a place registration.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Sleeper;
use crate::error::DomainError;
use crate::place::*;
use crate::reservation::*;
use crate::seed;
use crate::store::memory::MemoryTable;
use crate::test_support::FixedClock;

const NOW: i64 = 1_767_225_600; // 2026-01-01

fn cabin(rooms: i64) -> RegisterPlace {
    RegisterPlace::new("Cabin", rooms, 100)
}

fn catalogue(place_id: &str, owner: &str) -> CatalogPlace {
    CatalogPlace {
        place_id: place_id.into(),
        owner_id: owner.into(),
        name: "Cabin".into(),
        nightly_price: 100,
        price_rules: vec![],
        version: 1,
    }
}

/// The reservation service over one table that is also the place context's (as the local
/// runtime's store would be if both contexts shared it).
fn reservations(table: Arc<MemoryTable>) -> ReservationService {
    ReservationService::new(table.clone(), table, Arc::new(FixedClock::at(NOW)))
}

/// A `/v1` place in the place context's table, which `/v1` bookings read.
async fn v1_place(table: &Arc<MemoryTable>, place_id: &str) {
    PlaceService::new(table.clone(), Arc::new(FixedClock::at(NOW)), 60)
        .register("olivia", place_id.into(), cabin(1))
        .await
        .expect("register");
}

fn booking(place: &str) -> PlaceReservation {
    PlaceReservation {
        place_id: place.into(),
        check_in: "2026-02-01".into(),
        check_out: "2026-02-02".into(),
        rooms: 1,
        ..Default::default()
    }
}

fn seed_booking(usr: &str, place: &str, amount: i64) -> SeedReservation {
    SeedReservation {
        user_id: usr.into(),
        place_id: place.into(),
        place_name: String::new(),
        check_in: "2024-02-21".into(),
        check_out: "2024-02-22".into(),
        rooms: 1,
        amount,
    }
}

#[tokio::test]
async fn idempotent_place_ids_are_random_and_the_key_is_per_owner() {
    let table = Arc::new(MemoryTable::default());
    let svc = PlaceService::new(table.clone(), Arc::new(FixedClock::at(NOW)), 60);
    let (a, created) = svc
        .register_idempotent("olivia", "k1", cabin(2))
        .await
        .expect("first");
    assert!(created);
    assert!(uuid::Uuid::parse_str(&a.place_id).is_ok_and(|u| u.get_version_num() == 7));
    let (again, created) = svc
        .register_idempotent("olivia", "k1", cabin(2))
        .await
        .expect("repeat");
    assert_eq!(
        (again.place_id.as_str(), created),
        (a.place_id.as_str(), false)
    );
    let (other, created) = svc
        .register_idempotent("oscar", "k1", cabin(2))
        .await
        .expect("another owner");
    assert!(created && other.place_id != a.place_id);
    assert!(matches!(
        svc.register_idempotent("olivia", "k1", cabin(3)).await,
        Err(DomainError::Conflict(_))
    ));
    assert_eq!(
        table.event_names(),
        ["PlaceRegistered", "PlaceRegistered"],
        "a repeat publishes nothing"
    );
}

#[tokio::test]
async fn idempotent_reservation_ids_are_random_and_stable() {
    let table = Arc::new(MemoryTable::default());
    let svc = reservations(table.clone());
    v1_place(&table, "p1").await;
    let (r, created) = svc
        .place("alice", booking("p1"), Some("trip"))
        .await
        .expect("place");
    assert!(created);
    assert!(uuid::Uuid::parse_str(&r.reservation_id).is_ok_and(|u| u.get_version_num() == 7));
    let (again, created) = svc
        .place("alice", booking("p1"), Some("trip"))
        .await
        .expect("repeat");
    assert_eq!(
        (again.reservation_id.as_str(), created),
        (r.reservation_id.as_str(), false)
    );
    let mut other = booking("p1");
    other.rooms = 2;
    assert!(matches!(
        svc.place("alice", other, Some("trip")).await,
        Err(DomainError::Conflict(_))
    ));
    let (bob, _) = svc
        .place("bob", booking("p1"), Some("trip"))
        .await
        .expect("bob");
    assert_ne!(bob.reservation_id, again.reservation_id);
}

#[tokio::test]
async fn the_seed_facade_and_v1_never_reach_each_others_places_or_users() {
    let table = Arc::new(MemoryTable::default());
    let svc = reservations(table.clone());
    v1_place(&table, "p1").await;
    svc.apply_catalogue(catalogue(&seed::place_id("1"), seed::OWNER))
        .await
        .expect("seed place");
    // The facade cannot book the /v1 place, even named by its id.
    assert!(matches!(
        svc.place_seed(seed_booking("alice", "p1", 1)).await,
        Err(DomainError::NotFound { .. })
    ));
    // /v1 cannot book the facade's place, by either name.
    for id in ["1", seed::place_id("1").as_str()] {
        assert!(matches!(
            svc.place("bob", booking(id), None).await,
            Err(DomainError::NotFound { .. })
        ));
    }
    // A facade booking under a /v1 user's name is the facade's user, not theirs.
    let r = svc
        .place_seed(seed_booking("alice", "1", 5000))
        .await
        .expect("seed booking");
    assert_eq!(r.reservation_id, "1");
    assert_eq!(r.user_id, seed::user_id("alice"));
    let alices: Vec<Reservation> = crate::records::query(
        &*table,
        &crate::records::newest_on_index("USER#alice".into()),
    )
    .await
    .expect("list");
    assert!(alices.is_empty());
    assert!(svc.get_own("alice", "1").await.is_err());
    // Bounded amounts.
    for amount in [-1, seed::MAX_AMOUNT + 1] {
        assert!(matches!(
            svc.place_seed(seed_booking("2", "1", amount)).await,
            Err(DomainError::Invalid { .. })
        ));
    }
    assert!(
        svc.place_seed(seed_booking("2", "1", seed::MAX_AMOUNT))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn seed_order_numbers_are_consecutive_under_concurrency() {
    let table = Arc::new(MemoryTable::default());
    let svc = Arc::new(reservations(table.clone()));
    svc.apply_catalogue(catalogue(&seed::place_id("1"), seed::OWNER))
        .await
        .expect("seed place");
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let svc = svc.clone();
            tokio::spawn(async move { svc.place_seed(seed_booking(&i.to_string(), "1", 1)).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        let r = t.await.expect("join").expect("no contention error");
        numbers.push(r.reservation_id.parse::<i64>().expect("a number"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=32).collect::<Vec<i64>>());
}

/// Applies the catalogue copy during the first pause, as the event would arrive meanwhile.
struct CatalogueArrives {
    table: Arc<MemoryTable>,
    place_id: String,
    pauses: AtomicUsize,
}

#[async_trait]
impl Sleeper for CatalogueArrives {
    async fn sleep(&self, _: Duration) {
        if self.pauses.fetch_add(1, Ordering::SeqCst) == 0 {
            reservations(self.table.clone())
                .apply_catalogue(catalogue(&self.place_id, "olivia"))
                .await
                .expect("catalogue");
        }
    }
}

#[tokio::test]
async fn a_seed_booking_waits_for_the_catalogue_copy_of_a_new_place() {
    let table = Arc::new(MemoryTable::default());
    let late = Arc::new(CatalogueArrives {
        table: table.clone(),
        place_id: seed::place_id("1"),
        pauses: AtomicUsize::new(0),
    });
    let svc = reservations(table.clone()).with_catalogue_wait(late.clone());
    let r = svc
        .place_seed(seed_booking("alice", "1", 100))
        .await
        .expect("waited");
    assert_eq!(r.amount, 100);
    assert_eq!(late.pauses.load(Ordering::SeqCst), 1);
    // A place that never comes: 404 after a bounded number of re-reads.
    let r = svc.place_seed(seed_booking("alice", "nope", 100)).await;
    assert!(matches!(r, Err(DomainError::NotFound { .. })));
    assert_eq!(
        late.pauses.load(Ordering::SeqCst),
        9,
        "8 more pauses, then 404"
    );
}
