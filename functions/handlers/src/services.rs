//! Builds the use-case services a handler needs from its environment and the adapters at hand.
//! A Lambda main and the local runtime both go through here, so configuration is read one way.
use std::collections::BTreeMap;
use std::sync::Arc;

use reserveplace_domain::clock::Clock;
use reserveplace_domain::payment::{BreakerPolicy, PaymentProvider, PaymentService};
use reserveplace_domain::place::PlaceService;
use reserveplace_domain::reservation::ReservationService;
use reserveplace_domain::saga::{SagaCallbacks, SagaStarter};
use reserveplace_domain::search::SearchService;
use reserveplace_domain::store::Table;
use reserveplace_domain::views::{
    LoyaltyService, MyPageService, NotificationChannel, NotificationService, OwnerViewService,
};

/// Configuration read from the function's environment (template parameters on AWS).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub owner_timeout_seconds: u64,
    pub breaker: BreakerPolicy,
    pub payment_timeout_ms: u64,
    pub quote_validity_seconds: u64,
}

impl Config {
    pub fn from_env(env: &BTreeMap<String, String>) -> Self {
        let num = |k: &str, default: u64| {
            env.get(k)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        Config {
            owner_timeout_seconds: num("OWNER_DECISION_TIMEOUT_SECONDS", 86_400).max(1),
            breaker: BreakerPolicy {
                failure_threshold: num("PAYMENT_FAILURE_THRESHOLD", 5).clamp(1, 1_000) as u32,
                open_for_ms: (num("PAYMENT_OPEN_SECONDS", 10) * 1000) as i64,
            },
            payment_timeout_ms: num("PAYMENT_TIMEOUT_MILLIS", 2_000),
            quote_validity_seconds: num(
                "QUOTE_VALIDITY_SECONDS",
                reserveplace_domain::place::DEFAULT_QUOTE_VALIDITY_SECONDS,
            )
            .clamp(1, 86_400),
        }
    }
}

/// Opens a table by its name (the value of e.g. `RESERVATION_TABLE`).
pub type TableOpener = Arc<dyn Fn(&str) -> Arc<dyn Table> + Send + Sync>;

/// Starts executions of the state machine with this ARN (the value of `SAGA_STATE_MACHINE_ARN`).
pub type SagaStarterOpener = Arc<dyn Fn(&str) -> Arc<dyn SagaStarter> + Send + Sync>;

/// The environment variable naming the state machine a saga starter starts (`!Ref` of it).
pub const SAGA_STATE_MACHINE_ARN: &str = "SAGA_STATE_MACHINE_ARN";

/// The adapters behind the ports (DynamoDB/Step Functions on AWS, embedded ones locally).
#[derive(Clone)]
pub struct Adapters {
    pub table: TableOpener,
    pub clock: Arc<dyn Clock>,
    pub payment_provider: Arc<dyn PaymentProvider>,
    pub saga: Arc<dyn SagaCallbacks>,
    pub saga_starter: SagaStarterOpener,
    pub notifications: Arc<dyn NotificationChannel>,
}

pub struct Services {
    pub config: Config,
    pub places: PlaceService,
    pub reservations: ReservationService,
    pub payments: PaymentService,
    pub mypages: MyPageService,
    pub owner_view: OwnerViewService,
    pub notifications: NotificationService,
    pub loyalty: LoyaltyService,
    pub search: SearchService,
    pub saga: Arc<dyn SagaCallbacks>,
    /// The state machine of `SAGA_STATE_MACHINE_ARN`; `None` for functions that start no saga.
    pub saga_starter: Option<Arc<dyn SagaStarter>>,
}

impl Services {
    pub fn build(env: &BTreeMap<String, String>, a: &Adapters) -> Services {
        let config = Config::from_env(env);
        let table = |var: &str, default: &str| {
            (a.table)(env.get(var).map(String::as_str).unwrap_or(default))
        };
        let provider: Arc<dyn PaymentProvider> = Arc::new(crate::adapters::TimeoutProvider::new(
            a.payment_provider.clone(),
            config.payment_timeout_ms,
        ));
        Services {
            places: PlaceService::new(
                table("PLACE_TABLE", "PlaceTable"),
                a.clock.clone(),
                config.owner_timeout_seconds,
            )
            .with_quote_validity(config.quote_validity_seconds),
            reservations: ReservationService::new(
                table("RESERVATION_TABLE", "ReservationTable"),
                table("PLACE_TABLE", "PlaceTable"),
                a.clock.clone(),
            )
            .with_catalogue_wait(Arc::new(crate::adapters::TokioSleeper)),
            payments: PaymentService::new(
                table("PAYMENT_TABLE", "PaymentTable"),
                a.clock.clone(),
                provider,
                config.breaker,
            ),
            mypages: MyPageService::new(table("MYPAGE_TABLE", "MyPageTable")),
            owner_view: OwnerViewService::new(table("OWNER_VIEW_TABLE", "OwnerViewTable")),
            notifications: NotificationService::new(
                table("NOTIFICATION_TABLE", "NotificationTable"),
                a.notifications.clone(),
            ),
            loyalty: LoyaltyService::new(table("LOYALTY_TABLE", "LoyaltyTable")),
            search: SearchService::new(table("SEARCH_TABLE", "SearchTable"), a.clock.clone()),
            saga: a.saga.clone(),
            saga_starter: env
                .get(SAGA_STATE_MACHINE_ARN)
                .map(|arn| (a.saga_starter)(arn)),
            config,
        }
    }
}
