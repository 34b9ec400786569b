//! The sample events in `events/`: one per function of `template.yaml`, named by its `Handler`, in
//! the shape the deployed Lambda receives (`sam local invoke <LogicalId> -e events/<handler>.json`).
//!
//! For every function this test checks that the sample exists and fits the template (route, rule
//! pattern or state-machine task), then feeds it to the function's handler in-process over a fresh
//! store seeded as the sample needs, and asserts the outcome documented in `events/README.md`.
//! HTTP samples go through [`api_request`], the API Gateway payload 2.0 → `ApiRequest` mapping.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use reserveplace_domain::clock::Clock;
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::payment::{ChargeOutcome, ChargeRequest, Movement, PaymentStatus};
use reserveplace_domain::place::{
    HoldState, OwnerDecision, RegisterPlace, STANDARD_ROOM_TYPE, StayRef, TokenOutcome,
};
use reserveplace_domain::reservation::{
    CancelReason, CatalogPlace, PlaceReservation, ReservationStatus, SeedReservation,
};
use reserveplace_domain::saga::{SagaCallbacks, SagaError, SagaStart, SagaStarter};
use reserveplace_domain::seed;
use reserveplace_domain::store::{Item, Key, Query, StoreError, Table, Write};
use reserveplace_functions::adapters::{
    LogChannel, SimulatedProvider, SimulationSettings, StripeConfig, StripeNotices, StripeProvider,
};
use reserveplace_functions::api::{ApiRequest, ApiResponse};
use reserveplace_functions::http::seed::SEED_OWNER;
use reserveplace_functions::registry::{self, Handler};
use reserveplace_functions::services::{Adapters, Resource, SAGA_STATE_MACHINE_ARN, Services};
use reserveplace_local_store::Database;
use reserveplace_wiring::{FunctionDef, Grant, Router, RuleMatcher, Target, Wiring};
use serde_json::{Value, json};

// The ids every sample shares.
const OWNER: &str = "owner-1";
const CUSTOMER: &str = "customer-1";
const PLACE: &str = "place-sample";
/// The id of the samples' reservation (`POST /v1/reservations` by customer-1 with
/// `Idempotency-Key: sample-trip`): ids are random, so the fixture fixes the id source.
const RES: &str = "cba472a7-4de9-5314-bddd-80308e8b9337";
const TRIP_KEY: &str = "sample-trip";
const CHECK_IN: &str = "2030-05-01";
const CHECK_OUT: &str = "2030-05-03";
const AMOUNT: i64 = 100_000;
/// The callback token in `place-request-decision.json`.
const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAbSampleTaskTokenForWaitForOwner0000sample";
/// The seed facade's first order (`POST /accommodations` numbers orders 1, 2, …).
const SEED_ORDER: &str = "1";
const SEED_PLACE: &str = "1";
const SEED_USER: &str = "2";
/// The store's clock starts here (the samples' timestamps), so dates in the samples never age.
const CLOCK_START_MS: i64 = 1_795_501_500_000; // 2026-11-24T06:25:00Z
/// The webhook sample is signed with this secret at the clock's start.
const SAMPLE_SIGNING_SECRET: &str = "whsec_sample";

/// The consumers that build read views: seeding replays committed events through them.
const VIEW_CONSUMERS: [&str; 5] = [
    "mypage-projector",
    "owner-view-projector",
    "notification-sender",
    "loyalty-awarder",
    "search-projection",
];

type R<T = ()> = Result<T, String>;

trait Context<T> {
    fn ctx(self, what: &str) -> R<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn ctx(self, what: &str) -> R<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

fn ensure(cond: bool, what: impl Display) -> R {
    if cond { Ok(()) } else { Err(what.to_string()) }
}

fn same<T: PartialEq + std::fmt::Debug>(actual: T, expected: T, what: &str) -> R {
    ensure(
        actual == expected,
        format!("{what}: got {actual:?}, expected {expected:?}"),
    )
}

fn date(text: &str) -> time::Date {
    reserveplace_domain::stay::parse_date("date", text).expect("a sample date")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ------------------------------------------------------------------ adapters

/// Starts at [`CLOCK_START_MS`] and moves one millisecond per reading, so timestamps stay ordered.
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> time::OffsetDateTime {
        let ms = self.0.fetch_add(1, Ordering::SeqCst);
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .expect("clock in range")
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Callback {
    Success {
        token: String,
        output: Value,
    },
    Failure {
        token: String,
        error: String,
        cause: String,
    },
}

/// The saga engine port: records what handlers resume.
#[derive(Default)]
struct RecordingCallbacks {
    calls: Mutex<Vec<Callback>>,
}

impl RecordingCallbacks {
    fn calls(&self) -> Vec<Callback> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
    fn record(&self, call: Callback) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

#[async_trait]
impl SagaCallbacks for RecordingCallbacks {
    async fn send_task_success(&self, token: &str, output: Value) -> Result<(), SagaError> {
        self.record(Callback::Success {
            token: token.to_string(),
            output,
        });
        Ok(())
    }
    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), SagaError> {
        self.record(Callback::Failure {
            token: token.to_string(),
            error: error.to_string(),
            cause: cause.to_string(),
        });
        Ok(())
    }
}

/// One `StartExecution`: (state machine, name, input).
type Start = (String, String, Value);

/// The saga starter port: records the executions started, idempotent by name like the engines.
struct RecordingStarter {
    machine: String,
    starts: Arc<Mutex<Vec<Start>>>,
    calls: Arc<Calls>,
}

#[async_trait]
impl SagaStarter for RecordingStarter {
    async fn start_execution(&self, name: &str, input: Value) -> Result<SagaStart, SagaError> {
        self.calls.record(&self.machine, "start");
        let mut starts = self
            .starts
            .lock()
            .map_err(|_| SagaError::Unavailable("poisoned".into()))?;
        if starts
            .iter()
            .any(|(m, n, _)| *m == self.machine && n == name)
        {
            return Ok(SagaStart::AlreadyStarted);
        }
        starts.push((self.machine.clone(), name.to_owned(), input));
        Ok(SagaStart::Started)
    }
}

/// The port calls a handler makes while it runs (seeding is not recorded): (resource, call).
#[derive(Default)]
struct Calls {
    on: AtomicBool,
    seen: Mutex<BTreeSet<(String, &'static str)>>,
}

impl Calls {
    fn record(&self, resource: &str, call: &'static str) {
        if self.on.load(Ordering::SeqCst)
            && let Ok(mut seen) = self.seen.lock()
        {
            seen.insert((resource.to_owned(), call));
        }
    }
    fn record_always(&self, resource: &str, call: &'static str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert((resource.to_owned(), call));
        }
    }
    fn taken(&self) -> BTreeSet<(String, &'static str)> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// The storage port, recording which table each call went to.
struct RecordingTable {
    inner: Arc<dyn Table>,
    name: String,
    calls: Arc<Calls>,
}

#[async_trait]
impl Table for RecordingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.calls.record(&self.name, "get");
        self.inner.get(key).await
    }
    async fn query(&self, q: &Query) -> Result<Vec<Item>, StoreError> {
        self.calls
            .record(&self.name, if q.index { "query-index" } else { "query" });
        self.inner.query(q).await
    }
    async fn transact(&self, w: Vec<Write>, e: Vec<DomainEvent>) -> Result<(), StoreError> {
        self.calls.record(&self.name, "transact");
        self.inner.transact(w, e).await
    }
    async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, StoreError> {
        self.calls.record(&self.name, "increment");
        self.inner.increment(key, attr, by).await
    }
}

/// One function's services over a fresh store in a temporary directory.
struct Ctx {
    dir: PathBuf,
    db: Arc<Database>,
    /// Every context's services, to seed the store and check the outcome.
    svc: Arc<Services>,
    /// The function's own: only the resources its registry row lists.
    function: Arc<Services>,
    saga: Arc<RecordingCallbacks>,
    starts: Arc<Mutex<Vec<Start>>>,
    calls: Arc<Calls>,
    provider: Arc<SimulatedProvider>,
}

impl Ctx {
    fn new(def: &FunctionDef) -> R<Ctx> {
        let dir = std::env::temp_dir().join(format!(
            "reserveplace-events-{}-{}",
            def.handler,
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).ctx("temp dir")?;
        let db = Database::open(&dir.join("reserveplace.db")).ctx("open store")?;
        let saga = Arc::new(RecordingCallbacks::default());
        let tables = db.clone();
        let calls = Arc::new(Calls::default());
        let recorder = calls.clone();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let (start_log, start_calls) = (starts.clone(), calls.clone());
        let provider = SimulatedProvider::new(SimulationSettings::default());
        let adapters = Adapters {
            table: Arc::new(move |name: &str| -> Arc<dyn Table> {
                Arc::new(RecordingTable {
                    inner: tables.table(name),
                    name: name.to_owned(),
                    calls: recorder.clone(),
                })
            }),
            clock: Arc::new(TestClock(AtomicI64::new(CLOCK_START_MS))),
            payment_provider: provider.clone(),
            // Stripe's webhooks with the sample's signing secret; the provider itself stays the
            // simulation (a refund event names its reservation without asking Stripe).
            payment_notices: Some(Arc::new(StripeNotices::new(
                SAMPLE_SIGNING_SECRET.into(),
                Arc::new(TestClock(AtomicI64::new(CLOCK_START_MS))),
                Arc::new(
                    StripeProvider::new(StripeConfig {
                        api_base: "http://127.0.0.1:9".into(),
                        secret_key: "sk_test_sample".into(),
                        request_timeout: std::time::Duration::from_secs(1),
                    })
                    .ctx("stripe adapter")?,
                ),
            ))),
            saga: saga.clone(),
            saga_starter: Arc::new(move |machine: &str| -> Arc<dyn SagaStarter> {
                Arc::new(RecordingStarter {
                    machine: machine.to_owned(),
                    starts: start_log.clone(),
                    calls: start_calls.clone(),
                })
            }),
            notifications: Arc::new(LogChannel),
        };
        // Seeding reaches every context; the handler gets only what its registry row lists, so
        // a sample that needs more fails here.
        let everything: Vec<Resource> = Resource::ALL
            .into_iter()
            .filter(|r| def.env.contains_key(r.var()))
            .collect();
        let uses = registry::uses(&def.handler).unwrap_or_default();
        let [svc, function] = [&everything[..], uses].map(|uses| {
            Services::build(&def.env, uses, &adapters).map(|mut services| {
                services
                    .reservations
                    .set_id_source(Arc::new(|| RES.to_owned()));
                Arc::new(services)
            })
        });
        let (svc, function) = (
            svc.ctx("services")?,
            function.ctx("the function's services")?,
        );
        Ok(Ctx {
            dir,
            db,
            svc,
            function,
            saga,
            starts,
            calls,
            provider,
        })
    }

    fn close(self) {
        let Ctx {
            dir,
            db,
            svc,
            function,
            saga,
            starts,
            calls,
            provider: _,
        } = self;
        drop((svc, function, saga, starts, calls));
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }

    async fn event_types(&self, reservation_id: &str) -> R<Vec<String>> {
        Ok(self
            .db
            .event_log(Some(reservation_id))
            .await
            .ctx("event log")?
            .into_iter()
            .map(|e| e.event.detail_type().to_string())
            .collect())
    }

    async fn nights_held(&self) -> R<Vec<i64>> {
        Ok(self
            .svc
            .places
            .availability_from(PLACE, Some(date(CHECK_IN)), &[])
            .await
            .ctx("availability")?
            .into_iter()
            .map(|n| n.held)
            .collect())
    }
}

// ------------------------------------------------------------------ seeding

/// How far the sample reservation has come (each stage includes the ones before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Empty,
    /// place-sample registered (request-to-book) and in the reservation context's catalogue.
    Place,
    /// The reservation is PENDING (v1).
    Reserved,
    /// Its payment is AUTHORIZED.
    Charged,
    /// PAID (v2).
    Paid,
    /// Its nights are held, the owner's decision pending.
    Held,
    /// AWAITING_OWNER (v3).
    AwaitingOwner,
    /// The saga's callback token is stored with the hold.
    TokenStored,
    /// The owner confirmed.
    OwnerConfirmed,
    /// CONFIRMED (v4).
    Confirmed,
    /// Its payment is CAPTURED.
    Captured,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Facade {
    None,
    /// The facade's place 1 (`POST /reservationManagements placeId=1 stock=1`).
    Place,
    /// …and its order 1, run through the saga's steps to CONFIRMED.
    ConfirmedOrder,
}

#[derive(Debug, Clone, Copy)]
struct Setup {
    stage: Stage,
    /// The owner did not answer in time (`place-expire-decision` ran).
    expired: bool,
    /// The payment was refunded (`payment-void` ran).
    refunded: bool,
    /// The customer cancelled (while the owner had not decided).
    customer_cancelled: bool,
    /// The captured payment was refunded in full (a cancel after capture).
    refund_sent: bool,
    facade: Facade,
    /// Committed events replayed through the view consumers (MyPage, owner view, notifications, loyalty).
    views: bool,
}

impl Setup {
    fn at(stage: Stage) -> Setup {
        Setup {
            stage,
            expired: false,
            refunded: false,
            customer_cancelled: false,
            refund_sent: false,
            facade: Facade::None,
            views: false,
        }
    }
    fn views(mut self) -> Setup {
        self.views = true;
        self
    }
    fn expired(mut self) -> Setup {
        self.expired = true;
        self
    }
    fn refunded(mut self) -> Setup {
        self.refunded = true;
        self
    }
    fn refund_sent(mut self) -> Setup {
        self.refund_sent = true;
        self
    }
    fn customer_cancelled(mut self) -> Setup {
        self.customer_cancelled = true;
        self
    }
    fn facade(mut self, facade: Facade) -> Setup {
        self.facade = facade;
        self
    }
}

/// What each sample needs in the store before it runs.
fn setup_for(binary: &str) -> Option<Setup> {
    use Stage::*;
    Some(match binary {
        "place-register" | "seed-reservation-management" | "reservation-catalogue" => {
            Setup::at(Empty)
        }
        "mypage-projector" | "owner-view-projector" | "notification-sender" | "loyalty-awarder" => {
            Setup::at(Empty)
        }
        "reservation-saga-start" => Setup::at(Empty),
        "place-list" | "place-update" | "reservation-place" => Setup::at(Place),
        "payment-authorize" => Setup::at(Reserved),
        "payment-get" | "reservation-record-payment" => Setup::at(Charged),
        "payment-webhook" => Setup::at(Captured).refund_sent(),
        "place-hold-nights" => Setup::at(Paid),
        "place-get" | "place-quote" | "reservation-await-owner" => Setup::at(Held),
        "owner-decision" | "place-request-decision" => Setup::at(AwaitingOwner),
        "owner-reservations" => Setup::at(AwaitingOwner).views(),
        "search-projection" => Setup::at(Place).views(),
        "search" => Setup::at(Held).views(),
        "place-expire-decision" => Setup::at(TokenStored),
        "payment-void" => Setup::at(TokenStored).expired(),
        "reservation-cancel-step" => Setup::at(TokenStored).expired().refunded(),
        "place-release-nights" => Setup::at(TokenStored).customer_cancelled(),
        "place-resume-saga" | "reservation-confirm" => Setup::at(OwnerConfirmed),
        "reservation-get" | "reservation-cancel" | "reservation-cancellation" | "owner-cancel" => {
            Setup::at(Captured)
        }
        "payment-capture" => Setup::at(Confirmed),
        "payment-refund-on-cancel" | "place-release-on-cancel" => Setup::at(Captured),
        "mypage-get" | "mypage-list" | "notification-list" | "loyalty-get" => {
            Setup::at(Captured).views()
        }
        "seed-accommodation" => Setup::at(Empty).facade(Facade::Place),
        "seed-mypage" => Setup::at(Empty).facade(Facade::ConfirmedOrder).views(),
        _ => return None,
    })
}

fn catalogue_copy(place: &reserveplace_domain::place::Place) -> CatalogPlace {
    CatalogPlace {
        place_id: place.place_id.clone(),
        owner_id: place.owner_id.clone(),
        name: place.facts.name.clone(),
        nightly_price: place.facts.nightly_price,
        price_rules: place.facts.price_rules.clone(),
        version: place.version,
    }
}

/// The movements of the sample reservation's payment ledger, in order.
async fn ledger_of(svc: &Services) -> R<Vec<Movement>> {
    let p = svc
        .payments
        .view(RES)
        .await
        .ctx("payment")?
        .ok_or("no payment")?;
    Ok(p.ledger.iter().map(|e| e.movement).collect())
}

fn charge_request() -> ChargeRequest {
    ChargeRequest {
        reservation_id: RES.into(),
        user_id: CUSTOMER.into(),
        owner_id: String::new(),
        amount: AMOUNT,
        currency: Default::default(),
        payment_method: None,
        version: 1,
    }
}

fn stay() -> StayRef {
    StayRef {
        reservation_id: RES.into(),
        place_id: PLACE.into(),
        room_type_id: STANDARD_ROOM_TYPE.into(),
        check_in: CHECK_IN.into(),
        check_out: CHECK_OUT.into(),
        rooms: 1,
        version: 1,
    }
}

/// Brings the store to `setup` through the same services the handlers use.
async fn seed(ctx: &Ctx, setup: Setup, wiring: &Wiring, matcher: &RuleMatcher) -> R {
    use Stage::*;
    let svc = &ctx.svc;
    let s = setup.stage;
    if s >= Place {
        let cmd = RegisterPlace {
            instant_book: false,
            city: "Seoul".into(),
            ..RegisterPlace::new("Sea view", 2, 50_000)
        };
        let (place, _) = svc
            .places
            .register(OWNER, PLACE.into(), cmd)
            .await
            .ctx("seed place")?;
        svc.reservations
            .apply_catalogue(catalogue_copy(&place))
            .await
            .ctx("seed catalogue")?;
    }
    if s >= Reserved {
        let cmd = PlaceReservation {
            place_id: PLACE.into(),
            check_in: CHECK_IN.into(),
            check_out: CHECK_OUT.into(),
            rooms: 1,
            ..Default::default()
        };
        let (r, _) = svc
            .reservations
            .place(CUSTOMER, cmd, Some(TRIP_KEY))
            .await
            .ctx("seed reservation")?;
        same(r.reservation_id.as_str(), RES, "seeded reservation id")?;
        same(r.amount, AMOUNT, "seeded amount")?;
    }
    if s >= Charged {
        let c = svc
            .payments
            .authorize(&charge_request())
            .await
            .ctx("seed authorization")?;
        same(c.outcome, ChargeOutcome::Approved, "seeded charge")?;
    }
    if s >= Paid {
        let o = svc
            .reservations
            .record_payment(RES)
            .await
            .ctx("seed PAID")?;
        same(o.status, ReservationStatus::Paid, "seeded status")?;
    }
    if s >= Held {
        let h = svc.places.hold_nights(&stay()).await.ctx("seed hold")?;
        same(h.outcome, HoldState::Held, "seeded hold")?;
    }
    if s >= AwaitingOwner {
        let o = svc
            .reservations
            .await_owner(RES)
            .await
            .ctx("seed AWAITING_OWNER")?;
        same(o.status, ReservationStatus::AwaitingOwner, "seeded status")?;
    }
    if s >= TokenStored {
        let t = svc
            .places
            .request_owner_decision(RES, TOKEN)
            .await
            .ctx("seed token")?;
        same(t, TokenOutcome::Stored, "seeded token")?;
    }
    if s >= OwnerConfirmed {
        svc.places
            .decide(OWNER, RES, true)
            .await
            .ctx("seed owner decision")?;
    }
    if s >= Confirmed {
        let o = svc.reservations.confirm(RES).await.ctx("seed CONFIRMED")?;
        same(o.status, ReservationStatus::Confirmed, "seeded status")?;
    }
    if s >= Captured {
        let c = svc
            .payments
            .capture(&charge_request())
            .await
            .ctx("seed capture")?;
        same(c.status, Some(PaymentStatus::Captured), "seeded capture")?;
    }
    if setup.expired {
        let d = svc
            .places
            .expire_owner_decision(RES)
            .await
            .ctx("seed timeout")?;
        same(d.decision, OwnerDecision::TimedOut, "seeded timeout")?;
    }
    if setup.refunded {
        let r = svc
            .payments
            .settle(&charge_request(), 0, CancelReason::OwnerTimeout)
            .await
            .ctx("seed void")?;
        same(r.status, Some(PaymentStatus::Voided), "seeded void")?;
    }
    if setup.refund_sent {
        let r = svc
            .payments
            .settle(&charge_request(), 0, CancelReason::CustomerCancelled)
            .await
            .ctx("seed refund")?;
        same(r.status, Some(PaymentStatus::Refunded), "seeded refund")?;
        // …which the card's bank then bounced: the provider holds the money again.
        let bounced = ctx.provider.fail_refund(RES, &format!("{RES}:refund:3"));
        same(bounced, true, "the seeded refund failed at the provider")?;
    }
    if setup.customer_cancelled {
        svc.reservations
            .cancel_by_customer(CUSTOMER, RES)
            .await
            .ctx("seed customer cancel")?;
    }
    if setup.facade != Facade::None {
        seed_facade(svc, setup.facade).await?;
    }
    if setup.views {
        project_views(ctx, wiring, matcher).await?;
    }
    Ok(())
}

/// The seed walkthrough's place 1 and (optionally) order 1, confirmed like the saga would.
async fn seed_facade(svc: &Services, facade: Facade) -> R {
    let cmd = RegisterPlace::new(format!("place {SEED_PLACE}"), 1, 0);
    let (place, _) = svc
        .places
        .register(SEED_OWNER, seed::place_id(SEED_PLACE), cmd)
        .await
        .ctx("seed facade place")?;
    svc.reservations
        .apply_catalogue(catalogue_copy(&place))
        .await
        .ctx("seed facade catalogue")?;
    if facade != Facade::ConfirmedOrder {
        return Ok(());
    }
    let order = svc
        .reservations
        .place_seed(SeedReservation {
            user_id: SEED_USER.into(),
            place_id: SEED_PLACE.into(),
            place_name: "test01".into(),
            check_in: "2024-02-21".into(),
            check_out: "2024-02-22".into(),
            rooms: 1,
            amount: 5000,
        })
        .await
        .ctx("seed facade order")?;
    same(order.reservation_id.as_str(), SEED_ORDER, "facade order id")?;
    let charge = ChargeRequest {
        reservation_id: SEED_ORDER.into(),
        user_id: seed::user_id(SEED_USER),
        owner_id: String::new(),
        amount: 5000,
        currency: Default::default(),
        payment_method: None,
        version: 1,
    };
    svc.payments
        .authorize(&charge)
        .await
        .ctx("seed facade authorization")?;
    svc.reservations
        .record_payment(SEED_ORDER)
        .await
        .ctx("seed facade PAID")?;
    let stay = StayRef {
        reservation_id: SEED_ORDER.into(),
        place_id: seed::place_id(SEED_PLACE),
        room_type_id: STANDARD_ROOM_TYPE.into(),
        check_in: "2024-02-21".into(),
        check_out: "2024-02-22".into(),
        rooms: 1,
        version: 1,
    };
    let hold = svc
        .places
        .hold_nights(&stay)
        .await
        .ctx("seed facade hold")?;
    same(hold.outcome, HoldState::Held, "facade hold")?;
    svc.reservations
        .confirm(SEED_ORDER)
        .await
        .ctx("seed facade CONFIRMED")?;
    Ok(())
}

/// Delivers every committed event, as the bus would, to the view consumers whose rules match it.
async fn project_views(ctx: &Ctx, wiring: &Wiring, matcher: &RuleMatcher) -> R {
    let entries = ctx.db.event_log(None).await.ctx("event log")?;
    for entry in entries {
        let envelope = entry.event.to_bus_envelope();
        for index in matcher.matching(&envelope) {
            let Some(id) = wiring.consumer_of(&wiring.rules[index].target) else {
                continue;
            };
            if !wiring.functions.contains_key(id) {
                continue;
            }
            let binary = wiring.functions[id].handler.as_str();
            if !VIEW_CONSUMERS.contains(&binary) {
                continue;
            }
            let Some(Handler::Event(f)) = registry::find(binary) else {
                return Err(format!("{binary} is not an event consumer"));
            };
            f(ctx.svc.clone(), envelope.clone())
                .await
                .ctx(&format!("seed view {binary}"))?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ API Gateway payload 2.0

fn string_map(v: Option<&Value>, what: &str) -> R<BTreeMap<String, String>> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| format!("{what}.{k} is not a string"))
            })
            .collect(),
        Some(_) => Err(format!("{what} is not an object")),
    }
}

/// An API Gateway HTTP API (payload format 2.0) event as the handlers' [`ApiRequest`].
/// The API Gateway payload 2.0 event → `ApiRequest`, exactly as the deployed function maps it:
/// `lambda_http`'s own parsing, then the Lambda crate's mapping (identity from the JWT `sub`).
fn api_request(event: &Value) -> R<ApiRequest> {
    if event.get("isBase64Encoded").and_then(Value::as_bool) != Some(false) {
        return Err("isBase64Encoded must be false in the samples".into());
    }
    let req = lambda_http::request::from_str(&event.to_string())
        .ctx("not an API Gateway HTTP API event")?;
    Ok(reserveplace_lambda::http::api_request(req))
}

// ------------------------------------------------------------------ shape checks

/// Each sample has the shape its trigger delivers, and the trigger in the template reaches it.
fn check_shape(
    def: &FunctionDef,
    handler: &Handler,
    sample: &Value,
    wiring: &Wiring,
    router: &Router,
    matcher: &RuleMatcher,
) -> R {
    let str_at = |p: &str| sample.pointer(p).and_then(Value::as_str).unwrap_or("");
    match handler {
        Handler::Http(_) => {
            same(str_at("/version"), "2.0", "version")?;
            let route_key = str_at("/routeKey");
            same(
                str_at("/requestContext/routeKey"),
                route_key,
                "requestContext.routeKey",
            )?;
            same(
                str_at("/requestContext/accountId"),
                "000000000000",
                "accountId",
            )?;
            let (method, template) = route_key
                .split_once(' ')
                .ok_or_else(|| format!("routeKey '{route_key}' is not 'METHOD /path'"))?;
            ensure(
                wiring.routes.iter().any(|r| {
                    r.function == def.logical_id && r.method == method && r.path == template
                }),
                format!(
                    "routeKey '{route_key}' is not a route of {}",
                    def.logical_id
                ),
            )?;
            let req = api_request(sample)?;
            same(req.method.as_str(), method, "requestContext.http.method")?;
            same(
                str_at("/requestContext/http/path"),
                &req.path,
                "requestContext.http.path",
            )?;
            let (index, params) = router
                .find(&req.method, &req.path)
                .ok_or_else(|| format!("no route serves {} {}", req.method, req.path))?;
            same(
                wiring.routes[index].function.as_str(),
                def.logical_id.as_str(),
                "function serving rawPath",
            )?;
            same(&params, &req.path_params, "pathParameters")?;
            if let Some(qs) = sample.get("queryStringParameters") {
                same(
                    &string_map(Some(qs), "queryStringParameters")?,
                    &req.query,
                    "queryStringParameters vs rawQueryString",
                )?;
            }
            let headers = sample
                .get("headers")
                .and_then(Value::as_object)
                .ok_or("no headers")?;
            ensure(
                headers.keys().all(|k| *k == k.to_ascii_lowercase()),
                "HTTP API 2.0 header names are lower case",
            )?;
            // An open route's caller may send no token at all (the provider's webhook).
            let open = wiring.routes[index].authorizer.is_none();
            if open && req.user.is_none() {
                ensure(
                    req.header("authorization").is_none(),
                    "a token without its verified claims",
                )?;
            } else {
                let user = req.user.clone().ok_or("no authorizer.jwt.claims.sub")?;
                same(
                    req.header("authorization"),
                    Some(format!("Bearer dev:{user}").as_str()),
                    "authorization header",
                )?;
            }
            if !req.body.is_empty() {
                ensure(
                    req.header("content-type")
                        .is_some_and(|t| t.starts_with("application/json")),
                    "content-type is JSON",
                )?;
                same(
                    req.header("content-length"),
                    Some(req.body.len().to_string().as_str()),
                    "content-length",
                )?;
                serde_json::from_slice::<Value>(&req.body).ctx("body is not JSON")?;
            }
        }
        Handler::Event(_) => {
            check_envelope(sample)?;
            let targets: Vec<&str> = matcher
                .matching(sample)
                .into_iter()
                .filter_map(|i| wiring.consumer_of(&wiring.rules[i].target))
                .collect();
            ensure(
                targets.contains(&def.logical_id.as_str()),
                format!(
                    "no rule of {} matches the sample (it reaches {targets:?})",
                    def.logical_id
                ),
            )?;
        }
        Handler::Step(_) => {
            ensure(
                wiring
                    .state_machines
                    .values()
                    .any(|sm| sm.function_arns.values().any(|f| *f == def.logical_id)),
                format!("{} is no task of a state machine", def.logical_id),
            )?;
            ensure(
                sample
                    .pointer("/detail/reservationId")
                    .is_some_and(Value::is_string),
                "Payload without detail.reservationId",
            )?;
            if def.handler == "place-request-decision" {
                // WaitForOwner's Parameters: {"detail.$": "$.detail", "taskToken.$": "$$.Task.Token"}.
                let keys: BTreeSet<&str> = sample
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                same(
                    keys,
                    BTreeSet::from(["detail", "taskToken"]),
                    "Payload keys",
                )?;
            } else {
                // `Payload.$: "$"`: the execution input (the ReservationPlaced event) plus results.
                check_envelope(sample)?;
                same(str_at("/detail-type"), "ReservationPlaced", "saga input")?;
                // The rule delivering it starts this step's machine: through a starter function
                // (its SAGA_STATE_MACHINE_ARN names the machine) or as the rule's own target.
                let runs_this_step = |sm: &str| {
                    wiring
                        .state_machines
                        .get(sm)
                        .is_some_and(|sm| sm.function_arns.values().any(|f| *f == def.logical_id))
                };
                let starts_saga =
                    matcher
                        .matching(sample)
                        .into_iter()
                        .any(|i| match &wiring.rules[i].target {
                            Target::StateMachine(sm) => runs_this_step(sm),
                            target => wiring
                                .consumer_of(target)
                                .and_then(|f| wiring.functions.get(f))
                                .and_then(|f| f.env.get(SAGA_STATE_MACHINE_ARN))
                                .is_some_and(|sm| runs_this_step(sm)),
                        });
                ensure(
                    starts_saga,
                    "the saga input does not match the rule starting the state machine",
                )?;
            }
        }
    }
    Ok(())
}

fn check_envelope(e: &Value) -> R {
    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
    same(s("version"), "0", "envelope version")?;
    same(s("account"), "000000000000", "account")?;
    same(s("region"), "us-east-1", "region")?;
    same(e.get("resources"), Some(&json!([])), "resources")?;
    let detail = e
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or("no detail")?;
    same(
        s("id"),
        detail.get("eventId").and_then(Value::as_str).unwrap_or(""),
        "id = detail.eventId",
    )?;
    let occurred = detail
        .get("occurredAt")
        .and_then(Value::as_str)
        .unwrap_or("");
    same(
        s("time").to_string(),
        format!("{}Z", occurred.get(..19).unwrap_or("")),
        "time = detail.occurredAt to the second",
    )?;
    for k in ["detail-type", "source"] {
        ensure(!s(k).is_empty(), format!("no {k}"))?;
    }
    Ok(())
}

/// No account id but the placeholder, no URLs.
fn check_text(text: &str) -> R {
    ensure(
        !text.contains("http://") && !text.contains("https://"),
        "contains a URL",
    )?;
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        ensure(
            run.len() != 12 || run == "000000000000",
            format!("12-digit number {run} (account ids must be 000000000000)"),
        )?;
        run.clear();
    }
    Ok(())
}

// ------------------------------------------------------------------ outcomes

enum Outcome {
    Http(ApiResponse),
    Event,
    Step(Value),
}

fn http_json(outcome: &Outcome, status: u16) -> R<Value> {
    let Outcome::Http(resp) = outcome else {
        return Err("not an HTTP outcome".into());
    };
    let body: Value = serde_json::from_slice(&resp.body).ctx("response body")?;
    same(
        resp.status.as_u16(),
        status,
        &format!("HTTP status ({body})"),
    )?;
    Ok(body)
}

fn location(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Http(resp) => resp.header("location").map(str::to_string),
        _ => None,
    }
}

fn step_output(outcome: &Outcome) -> R<&Value> {
    match outcome {
        Outcome::Step(v) => Ok(v),
        _ => Err("not a step outcome".into()),
    }
}

/// The outcome each sample must have (documented in `events/README.md`).
async fn verify(binary: &str, ctx: &Ctx, outcome: &Outcome) -> R {
    let svc = &ctx.svc;
    match binary {
        // ---- HTTP
        "place-register" => {
            let b = http_json(outcome, 201)?;
            same(&b["ownerId"], &json!(OWNER), "ownerId")?;
            same(&b["name"], &json!("Sea view"), "name")?;
            same(&b["instantBook"], &json!(false), "instantBook")?;
            let id = b["placeId"].as_str().ok_or("no placeId")?;
            same(
                location(outcome),
                Some(format!("/v1/places/{id}")),
                "location",
            )?;
            ensure(
                svc.places.get_place(id).await.ctx("get place")?.is_some(),
                "place not stored",
            )?;
            same(
                ctx.event_types(id).await?,
                vec![],
                "events about a reservation",
            )?;
        }
        "place-list" => {
            let b = http_json(outcome, 200)?;
            same(&b["items"][0]["placeId"], &json!(PLACE), "items[0].placeId")?;
            same(b["items"].as_array().map(Vec::len), Some(1), "items")?;
        }
        "place-get" => {
            let b = http_json(outcome, 200)?;
            same(&b["place"]["placeId"], &json!(PLACE), "place.placeId")?;
            same(
                &b["nights"],
                &json!([
                    {"night": "2030-05-01", "roomTypeId": "standard", "held": 1, "free": 1},
                    {"night": "2030-05-02", "roomTypeId": "standard", "held": 1, "free": 1},
                ]),
                "nights",
            )?;
        }
        "place-quote" => {
            let b = http_json(outcome, 200)?;
            same(
                &b["nights"],
                &json!([
                    {"date": "2030-05-01", "nightlyPrice": 50_000, "free": 1},
                    {"date": "2030-05-02", "nightlyPrice": 50_000, "free": 1},
                ]),
                "nights",
            )?;
            // What the sample reservation (same stay, 1 room) was charged.
            same(&b["total"], &json!(AMOUNT), "total")?;
            same(&b["available"], &json!(true), "available")?;
        }
        "place-update" => {
            let b = http_json(outcome, 200)?;
            same(&b["roomCount"], &json!(3), "roomCount")?;
            same(&b["version"], &json!(2), "version")?;
        }
        "owner-reservations" => {
            let b = http_json(outcome, 200)?;
            same(
                &b["items"][0]["reservationId"],
                &json!(RES),
                "reservationId",
            )?;
            same(&b["items"][0]["status"], &json!("AWAITING_OWNER"), "status")?;
        }
        "owner-decision" => {
            let b = http_json(outcome, 200)?;
            same(
                &b,
                &json!({"reservationId": RES, "placeId": PLACE, "decision": "CONFIRMED"}),
                "body",
            )?;
            let types = ctx.event_types(RES).await?;
            same(
                types.last().map(String::as_str),
                Some("ReservationConfirmed"),
                "last event",
            )?;
            same(
                ctx.saga.calls(),
                vec![],
                "saga callbacks (place-resume-saga resumes)",
            )?;
        }
        "owner-cancel" => {
            let b = http_json(outcome, 200)?;
            same(&b["status"], &json!("CANCELLED"), "status")?;
            same(
                &b["statusReason"],
                &json!("OWNER_CANCELLED"),
                "statusReason",
            )?;
            same(
                &b["cancellation"]["refundAmount"],
                &json!(AMOUNT),
                "refundAmount",
            )?;
            same(
                &b["cancellation"]["penaltyAmount"],
                &json!(0),
                "penaltyAmount",
            )?;
            let types = ctx.event_types(RES).await?;
            same(
                types.last().map(String::as_str),
                Some("ReservationCanceled"),
                "last event",
            )?;
        }
        "seed-reservation-management" => {
            let b = http_json(outcome, 201)?;
            same(
                &b,
                &json!({"placeId": 1, "stock": 1, "orderId": null}),
                "body",
            )?;
        }
        "reservation-place" => {
            let b = http_json(outcome, 202)?;
            same(&b["reservationId"], &json!(RES), "reservationId")?;
            same(&b["status"], &json!("PENDING"), "status")?;
            same(&b["amount"], &json!(AMOUNT), "amount")?;
            same(
                location(outcome),
                Some(format!("/v1/reservations/{RES}")),
                "location",
            )?;
            same(
                ctx.event_types(RES).await?,
                vec!["ReservationPlaced".to_string()],
                "events",
            )?;
        }
        "reservation-get" => {
            let b = http_json(outcome, 200)?;
            same(&b["status"], &json!("CONFIRMED"), "status")?;
            same(&b["version"], &json!(4), "version")?;
        }
        "reservation-cancel" => {
            let b = http_json(outcome, 200)?;
            same(&b["status"], &json!("CANCELLED"), "status")?;
            same(
                &b["statusReason"],
                &json!("CUSTOMER_CANCELLED"),
                "statusReason",
            )?;
            let types = ctx.event_types(RES).await?;
            same(
                types.last().map(String::as_str),
                Some("ReservationCanceled"),
                "last event",
            )?;
        }
        "seed-accommodation" => {
            let b = http_json(outcome, 201)?;
            same(&b["orderId"], &json!(1), "orderId")?;
            same(&b["status"], &json!("예약처리"), "status")?;
            same(&b["amount"], &json!(5000), "amount")?;
            same(&b["placeId"], &json!(1), "placeId")?;
        }
        "payment-get" => {
            let b = http_json(outcome, 200)?;
            same(&b["status"], &json!("AUTHORIZED"), "status")?;
            same(&b["amount"], &json!(AMOUNT), "amount")?;
            same(&b["authorized"], &json!(AMOUNT), "authorized")?;
            same(&b["captured"], &json!(0), "captured")?;
            same(&b["reservationId"], &json!(RES), "reservationId")?;
            same(
                &b["ledger"][0]["movement"],
                &json!("AUTHORIZE"),
                "the ledger's first entry",
            )?;
            same(
                &b["ledger"][0]["idempotencyKey"],
                &json!(format!("{RES}:authorize:1")),
                "its key",
            )?;
        }
        "payment-webhook" => {
            let b = http_json(outcome, 200)?;
            same(&b["outcome"], &json!("REFUND_FAILED"), "outcome")?;
            same(&b["sentAgain"], &json!(true), "sentAgain")?;
            same(
                &ledger_of(svc).await?[2..],
                &[Movement::Refund, Movement::RefundFailed, Movement::Refund][..],
                "the failed refund reversed, then sent anew",
            )?;
        }
        "reservation-cancellation" => {
            let b = http_json(outcome, 200)?;
            same(&b["refundAmount"], &json!(AMOUNT), "refundAmount")?;
            same(&b["penaltyAmount"], &json!(0), "penaltyAmount")?;
            same(&b["currency"], &json!("KRW"), "currency")?;
            let r = svc.reservations.get(RES).await.ctx("reservation")?;
            same(
                r.map(|r| r.status),
                Some(ReservationStatus::Confirmed),
                "a quote cancels nothing",
            )?;
        }
        "mypage-get" => {
            let b = http_json(outcome, 200)?;
            same(
                &b["reservationStatus"],
                &json!("CONFIRMED"),
                "reservationStatus",
            )?;
            same(&b["paymentStatus"], &json!("CAPTURED"), "paymentStatus")?;
            same(&b["paymentCaptured"], &json!(AMOUNT), "paymentCaptured")?;
            same(&b["amount"], &json!(AMOUNT), "amount")?;
        }
        "mypage-list" => {
            let b = http_json(outcome, 200)?;
            same(b["items"].as_array().map(Vec::len), Some(1), "items")?;
            same(
                &b["items"][0]["reservationId"],
                &json!(RES),
                "reservationId",
            )?;
            same(
                &b["items"][0]["reservationStatus"],
                &json!("CONFIRMED"),
                "status",
            )?;
        }
        "seed-mypage" => {
            let b = http_json(outcome, 200)?;
            same(&b["orderId"], &json!(1), "orderId")?;
            same(&b["status"], &json!("예약완료"), "status")?;
            same(&b["payStatus"], &json!("결제완료"), "payStatus")?;
            same(&b["amount"], &json!(5000), "amount")?;
            same(&b["placeNm"], &json!("test01"), "placeNm")?;
        }
        "notification-list" => {
            let b = http_json(outcome, 200)?;
            let statuses: Vec<&Value> = b["items"]
                .as_array()
                .map(|items| items.iter().map(|i| &i["status"]).collect())
                .unwrap_or_default();
            same(
                statuses,
                vec![
                    &json!("CONFIRMED"),
                    &json!("AWAITING_OWNER"),
                    &json!("PAID"),
                ],
                "statuses, newest first",
            )?;
        }
        "loyalty-get" => {
            let b = http_json(outcome, 200)?;
            same(&b["userId"], &json!(CUSTOMER), "userId")?;
            same(&b["points"], &json!(1000), "points")?;
            same(b["entries"].as_array().map(Vec::len), Some(1), "entries")?;
            let e = &b["entries"][0];
            same(
                (&e["status"], &e["kept"], &e["points"]),
                (&json!("CONFIRMED"), &json!(AMOUNT), &json!(1000)),
                "the entry: the confirmed stay keeps its price",
            )?;
        }
        "search" => {
            let b = http_json(outcome, 200)?;
            same(b["items"].as_array().map(Vec::len), Some(1), "items")?;
            same(&b["items"][0]["placeId"], &json!(PLACE), "placeId")?;
            same(&b["items"][0]["free"], &json!(1), "free (2 rooms, 1 held)")?;
            same(&b["items"][0]["total"], &json!(AMOUNT), "total")?;
            same(&b["nextCursor"], &Value::Null, "nextCursor")?;
            let Outcome::Http(resp) = outcome else {
                return Err("not an HTTP outcome".into());
            };
            // One small catalogue item and one month item: two Queries at the minimum each.
            same(resp.header("x-read-units"), Some("1"), "X-Read-Units")?;
        }
        // ---- event consumers
        "search-projection" => {
            let q: BTreeMap<String, String> = [
                ("city", "seoul"),
                ("checkIn", CHECK_IN),
                ("checkOut", CHECK_OUT),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            let page = svc.search.search(&q).await.ctx("search")?;
            same(page.items.len(), 1, "places found")?;
            same(
                page.items[0].free,
                1,
                "free: 2 rooms, 1 held on both nights",
            )?;
        }
        "reservation-catalogue" => {
            let c = svc.reservations.catalogue(PLACE).await.ctx("catalogue")?;
            same(
                c,
                Some(CatalogPlace {
                    place_id: PLACE.into(),
                    owner_id: OWNER.into(),
                    name: "Sea view".into(),
                    nightly_price: 50_000,
                    price_rules: vec![],
                    version: 1,
                }),
                "catalogue copy",
            )?;
        }
        "mypage-projector" => {
            let row = svc
                .mypages
                .get(RES)
                .await
                .ctx("mypage")?
                .ok_or("no MyPage row")?;
            same(row.reservation_status.as_deref(), Some("PENDING"), "status")?;
            same(row.user_id.as_str(), CUSTOMER, "userId")?;
            same(row.amount, AMOUNT, "amount")?;
            same(row.version, 1, "version")?;
        }
        "owner-view-projector" => {
            let rows = svc.owner_view.list(OWNER, None).await.ctx("owner view")?;
            same(rows.len(), 1, "owner view rows")?;
            same(rows[0].reservation_id.as_str(), RES, "reservationId")?;
            same(rows[0].status.as_str(), "AWAITING_OWNER", "status")?;
        }
        "notification-sender" => {
            let notes = svc
                .notifications
                .list(CUSTOMER)
                .await
                .ctx("notifications")?;
            same(notes.len(), 1, "notifications")?;
            same(notes[0].status.as_str(), "CONFIRMED", "status")?;
            same(
                notes[0].message.as_str(),
                "Your stay at Sea view is confirmed.",
                "message",
            )?;
        }
        "loyalty-awarder" => {
            let b = svc.loyalty.balance(CUSTOMER).await.ctx("balance")?;
            same(b.points, 1000, "points (1% of 100000)")?;
        }
        "payment-refund-on-cancel" => {
            let p = svc
                .payments
                .get(RES)
                .await
                .ctx("payment")?
                .ok_or("no payment")?;
            same(p.facts.status, PaymentStatus::Refunded, "payment")?;
            same(p.facts.sums.refunded, AMOUNT, "refunded")?;
        }
        "place-release-on-cancel" => {
            let h = svc
                .places
                .get_hold(RES)
                .await
                .ctx("hold")?
                .ok_or("no hold")?;
            same(h.state, HoldState::Released, "hold state")?;
            same(ctx.nights_held().await?, vec![0, 0], "rooms held per night")?;
            same(
                ctx.saga.calls(),
                vec![],
                "saga callbacks (nothing was waiting)",
            )?;
        }
        "reservation-saga-start" => {
            let starts = ctx.starts.lock().map(|s| s.clone()).unwrap_or_default();
            let started: Vec<(&str, &str)> = starts
                .iter()
                .map(|(m, n, _)| (m.as_str(), n.as_str()))
                .collect();
            same(
                started,
                vec![("ReservationSaga", RES)],
                "executions started (state machine, name)",
            )?;
            let input = &starts[0].2;
            same(&input["detail-type"], &json!("ReservationPlaced"), "input")?;
            same(
                &input["detail"]["reservationId"],
                &json!(RES),
                "input reservationId",
            )?;
        }
        "place-resume-saga" => {
            same(
                ctx.saga.calls(),
                vec![Callback::Success {
                    token: TOKEN.into(),
                    output: json!({"decision": "CONFIRMED"}),
                }],
                "saga callbacks",
            )?;
        }
        // ---- saga steps
        "payment-authorize" => {
            let out = step_output(outcome)?;
            same(&out["outcome"], &json!("APPROVED"), "outcome")?;
            ensure(out["paymentId"].is_string(), "no paymentId")?;
            let p = svc.payments.get(RES).await.ctx("payment")?;
            same(
                p.map(|p| p.facts.status),
                Some(PaymentStatus::Authorized),
                "payment",
            )?;
        }
        "reservation-record-payment" => {
            same(
                step_output(outcome)?,
                &json!({"status": "PAID", "version": 2}),
                "output",
            )?;
        }
        "place-hold-nights" => {
            same(
                step_output(outcome)?,
                &json!({"outcome": "HELD", "instantBook": false, "ownerTimeoutSeconds": 86400, "decision": "NONE"}),
                "output",
            )?;
            same(ctx.nights_held().await?, vec![1, 1], "rooms held per night")?;
        }
        "reservation-await-owner" => {
            same(
                step_output(outcome)?,
                &json!({"status": "AWAITING_OWNER", "version": 3}),
                "output",
            )?;
        }
        "place-request-decision" => {
            same(step_output(outcome)?, &json!({"waiting": true}), "output")?;
            same(
                svc.places.pending_token(RES).await.ctx("token")?,
                Some((TOKEN.to_string(), OwnerDecision::Pending)),
                "stored token",
            )?;
            same(ctx.saga.calls(), vec![], "saga callbacks")?;
        }
        "place-expire-decision" => {
            same(
                step_output(outcome)?,
                &json!({"decision": "TIMED_OUT"}),
                "output",
            )?;
            same(ctx.nights_held().await?, vec![0, 0], "rooms held per night")?;
        }
        "payment-void" => {
            same(
                step_output(outcome)?,
                &json!({"status": "VOIDED", "captured": 0, "refunded": 0, "kept": 0}),
                "output",
            )?;
            same(
                ledger_of(svc).await?,
                vec![Movement::Authorize, Movement::Void],
                "ledger: no money moved",
            )?;
        }
        "payment-capture" => {
            same(
                step_output(outcome)?,
                &json!({"status": "CAPTURED", "captured": AMOUNT, "refunded": 0, "kept": AMOUNT}),
                "output",
            )?;
            same(
                ledger_of(svc).await?,
                vec![Movement::Authorize, Movement::Capture],
                "ledger",
            )?;
        }
        "reservation-cancel-step" => {
            same(
                step_output(outcome)?,
                &json!({"status": "CANCELLED", "version": 4}),
                "output",
            )?;
            let r = svc.reservations.get(RES).await.ctx("reservation")?;
            same(
                r.and_then(|r| r.status_reason),
                Some(CancelReason::OwnerTimeout),
                "statusReason",
            )?;
        }
        "place-release-nights" => {
            same(step_output(outcome)?, &json!({"released": true}), "output")?;
            let h = svc
                .places
                .get_hold(RES)
                .await
                .ctx("hold")?
                .ok_or("no hold")?;
            same(
                (h.state, h.decision),
                (HoldState::Released, OwnerDecision::Cancelled),
                "hold",
            )?;
            same(ctx.nights_held().await?, vec![0, 0], "rooms held per night")?;
        }
        "reservation-confirm" => {
            same(
                step_output(outcome)?,
                &json!({"status": "CONFIRMED", "version": 4}),
                "output",
            )?;
        }
        other => return Err(format!("no expectation for {other}")),
    }
    Ok(())
}

// ------------------------------------------------------------------ the test

async fn run_sample(
    def: &FunctionDef,
    sample: &Value,
    wiring: &Wiring,
    router: &Router,
    matcher: &RuleMatcher,
) -> R<BTreeSet<(String, &'static str)>> {
    if !def.stream_tables.is_empty() {
        return outbox_relay_sample(sample);
    }
    let handler = registry::find(&def.handler).ok_or("no handler in the registry")?;
    check_shape(def, &handler, sample, wiring, router, matcher)?;
    let setup = setup_for(&def.handler).ok_or("no setup for this sample")?;
    let ctx = Ctx::new(def)?;
    let result = async {
        seed(&ctx, setup, wiring, matcher).await?;
        let callbacks_before = ctx.saga.calls().len();
        ctx.calls.on.store(true, Ordering::SeqCst);
        let outcome = match handler {
            Handler::Http(f) => Outcome::Http(f(ctx.function.clone(), api_request(sample)?).await),
            Handler::Event(f) => {
                f(ctx.function.clone(), sample.clone())
                    .await
                    .ctx("consumer failed")?;
                Outcome::Event
            }
            Handler::Step(f) => Outcome::Step(
                f(ctx.function.clone(), sample.clone())
                    .await
                    .ctx("step failed")?,
            ),
        };
        ctx.calls.on.store(false, Ordering::SeqCst);
        verify(&def.handler, &ctx, &outcome).await?;
        // Delivered again, as a client retry or an at-least-once redelivery would: the replay
        // paths' calls count too (their outcome is the idempotency tests' business).
        ctx.calls.on.store(true, Ordering::SeqCst);
        match handler {
            Handler::Http(f) => drop(f(ctx.function.clone(), api_request(sample)?).await),
            Handler::Event(f) => drop(f(ctx.function.clone(), sample.clone()).await),
            Handler::Step(f) => drop(f(ctx.function.clone(), sample.clone()).await),
        }
        ctx.calls.on.store(false, Ordering::SeqCst);
        if ctx.saga.calls().len() > callbacks_before {
            ctx.calls.record_always("ReservationSaga", "callback");
        }
        Ok(ctx.calls.taken())
    }
    .await;
    ctx.close();
    result
}

/// The outbox relay's sample: a DynamoDB stream batch whose outbox item holds ReservationPlaced
/// (publishing it is tested on the emulator, `functions/aws/tests/outbox_relay.rs`).
fn outbox_relay_sample(sample: &Value) -> R<BTreeSet<(String, &'static str)>> {
    let batch: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(sample.clone()).ctx("not a DynamoDB stream event")?;
    let events = reserveplace_aws::relay::outbox_events(&batch);
    same(events.len(), 1, "outbox events in the batch")?;
    let (_, event) = &events[0];
    same(event.detail_type(), "ReservationPlaced", "detail-type")?;
    same(event.reservation_id(), RES, "reservationId")?;
    same(event.source.as_str(), "reserveplace.reservation", "source")?;
    Ok(BTreeSet::from([("EventBus".to_owned(), "publish")]))
}

/// Paths the samples do not take that call a port the sampled path does not: (binary, resource,
/// call, the path). With the recorded calls they are everything a function's code calls.
const OTHER_PATHS: &[(&str, &str, &str, &str)] = &[
    (
        "search-projection",
        "SearchTable",
        "query",
        "a catalogue event counts the holds that arrived before it",
    ),
    (
        "place-request-decision",
        "ReservationSaga",
        "callback",
        "the owner decided, or the customer cancelled, before the saga handed over its token",
    ),
];

/// The IAM grants a set of port calls needs, per the AWS adapters (`reserveplace_aws::iam`).
fn needed_grants(calls: &BTreeSet<(String, &'static str)>) -> BTreeSet<Grant> {
    use reserveplace_aws::iam;
    let mut out = BTreeSet::new();
    for (resource, call) in calls {
        let (actions, resource) = match *call {
            "get" => (iam::TABLE_GET, resource.clone()),
            "query" => (iam::TABLE_QUERY, resource.clone()),
            "query-index" => (
                iam::TABLE_QUERY,
                format!(
                    "{resource}/index/{}",
                    reserveplace_aws::dynamodb::INDEX_NAME
                ),
            ),
            "transact" => (iam::TABLE_TRANSACT, resource.clone()),
            "increment" => (iam::TABLE_INCREMENT, resource.clone()),
            "callback" => (iam::SAGA_CALLBACKS, resource.clone()),
            "start" => (iam::SAGA_START, resource.clone()),
            "publish" => (iam::BUS_PUBLISH, resource.clone()),
            other => panic!("unknown call {other}"),
        };
        for action in actions {
            out.insert(Grant {
                action: (*action).to_owned(),
                resource: iam::policy_resource(action, &resource).to_owned(),
            });
        }
    }
    out
}

/// Every function's `Policies` grant exactly what its code calls: nothing missing, nothing more.
fn check_policies(
    wiring: &Wiring,
    used: &BTreeMap<String, BTreeSet<(String, &'static str)>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for def in wiring.functions.values() {
        let Some(calls) = used.get(&def.handler) else {
            continue;
        };
        let mut calls = calls.clone();
        for (binary, resource, call, _) in OTHER_PATHS {
            if *binary == def.handler {
                calls.insert(((*resource).to_owned(), call));
            }
        }
        for (resource, _) in &calls {
            if resource != "ReservationSaga"
                && resource != "EventBus"
                && !wiring.tables.contains_key(resource)
                && !wiring.state_machines.contains_key(resource)
            {
                problems.push(format!(
                    "{}: called '{resource}', which is not a table or state machine of the template",
                    def.logical_id
                ));
            }
        }
        let needed = needed_grants(&calls);
        if let Ok(dir) = std::env::var("RESERVEPLACE_DUMP_POLICIES") {
            let grants: Vec<(&str, &str)> = needed
                .iter()
                .map(|g| (g.action.as_str(), g.resource.as_str()))
                .collect();
            let _ = std::fs::write(
                Path::new(&dir).join(format!("{}.json", def.logical_id)),
                serde_json::to_string(&grants).unwrap_or_default(),
            );
        }
        let granted: BTreeSet<Grant> = def.grants.iter().cloned().collect();
        let missing: Vec<_> = needed.difference(&granted).collect();
        let extra: Vec<_> = granted.difference(&needed).collect();
        if !missing.is_empty() || !extra.is_empty() {
            problems.push(format!(
                "{}: policy differs from the calls its code makes; missing {missing:?}, not needed {extra:?}",
                def.logical_id
            ));
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_has_a_sample_that_works() {
    let root = repo_root();
    let wiring =
        Wiring::load(&root.join("template.yaml"), &BTreeMap::new()).expect("load template.yaml");
    let router = Router::new(&wiring.routes).expect("routes");
    let matcher = RuleMatcher::new(&wiring.rules).expect("rules");
    let dir = root.join("events");

    let mut samples: BTreeMap<String, PathBuf> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("events/ exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            samples.insert(stem.to_string(), path.clone());
        }
    }
    let binaries: BTreeMap<&str, &FunctionDef> = wiring
        .functions
        .values()
        .map(|d| (d.handler.as_str(), d))
        .collect();

    let mut failures = Vec::new();
    for name in samples.keys() {
        if !binaries.contains_key(name.as_str()) {
            failures.push(format!(
                "events/{name}.json: no function of template.yaml has Handler '{name}'"
            ));
        }
    }
    let mut ran = 0;
    let mut used = BTreeMap::new();
    for (binary, def) in &binaries {
        let Some(path) = samples.get(*binary) else {
            failures.push(format!(
                "{} ({binary}): events/{binary}.json is missing",
                def.logical_id
            ));
            continue;
        };
        let outcome = async {
            let text = std::fs::read_to_string(path).ctx("read")?;
            check_text(&text)?;
            let sample: Value = serde_json::from_str(&text).ctx("not JSON")?;
            run_sample(def, &sample, &wiring, &router, &matcher).await
        }
        .await;
        ran += 1;
        match outcome {
            Ok(calls) => {
                used.insert(binary.to_string(), calls);
            }
            Err(e) => failures.push(format!("events/{binary}.json ({}): {e}", def.logical_id)),
        }
    }
    failures.extend(check_policies(&wiring, &used));
    assert!(
        failures.is_empty(),
        "{} of {} samples failed:\n  {}",
        failures.len(),
        binaries.len(),
        failures.join("\n  ")
    );
    assert_eq!(ran, wiring.functions.len(), "every function ran its sample");
}

/// `Resource: '*'` passes for exactly the actions IAM authorises on nothing narrower (the saga
/// callbacks), and is too much for any other; naming the saga for a callback is refused too.
#[test]
fn policies_grant_all_resources_only_where_iam_needs_it() {
    let template = |statements: &str| {
        format!(
            r#"
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{{AttributeName: pk, KeyType: HASH}}]
  ReservationSaga:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {{StartAt: Done, States: {{Done: {{Type: Succeed}}}}}}
  ProbeFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties: {{Binary: probe}}
    Properties:
      Handler: probe
      Policies:
        - Statement:
{statements}
"#
        )
    };
    let problems = |statements: &str| {
        let wiring = Wiring::from_yaml(&template(statements), Path::new("."), &BTreeMap::new())
            .expect("probe template loads");
        let used = BTreeMap::from([(
            "probe".to_owned(),
            BTreeSet::from([
                ("T".to_owned(), "get"),
                ("ReservationSaga".to_owned(), "callback"),
            ]),
        )]);
        check_policies(&wiring, &used)
    };
    let get_on = |resource: &str| {
        format!(
            "            - {{Effect: Allow, Action: [dynamodb:GetItem], Resource: {resource}}}\n"
        )
    };
    let callbacks_on = |resource: &str| {
        format!(
            "            - {{Effect: Allow, Action: [states:SendTaskFailure, states:SendTaskSuccess], Resource: {resource}}}\n"
        )
    };
    let exact = problems(&(get_on("!GetAtt T.Arn") + &callbacks_on("'*'")));
    assert!(exact.is_empty(), "{exact:?}");
    let table_on_all = problems(&(get_on("'*'") + &callbacks_on("'*'")));
    assert_eq!(table_on_all.len(), 1, "{table_on_all:?}");
    let callbacks_on_saga =
        problems(&(get_on("!GetAtt T.Arn") + &callbacks_on("!Ref ReservationSaga")));
    assert_eq!(callbacks_on_saga.len(), 1, "{callbacks_on_saga:?}");
}
