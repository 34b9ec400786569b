//! Builds the use-case services a handler needs from its environment and the adapters at hand.
//! A Lambda main and the local runtime both go through here, so configuration is read one way,
//! once, when the function starts: a variable the function needs that is missing or malformed
//! stops it there, naming the variable, rather than surfacing as a wrong table or a guessed
//! number on some later request.
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use reserveplace_domain::clock::Clock;
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::payment::{BreakerPolicy, NoticeReader, PaymentProvider, PaymentService};
use reserveplace_domain::place::PlaceService;
use reserveplace_domain::reservation::ReservationService;
use reserveplace_domain::saga::{SagaCallbacks, SagaStarter};
use reserveplace_domain::search::SearchService;
use reserveplace_domain::store::{Item, Key, Query, StoreError, Table, Write};
use reserveplace_domain::views::{
    LoyaltyService, MyPageService, NotificationChannel, NotificationService, OwnerViewService,
};

/// A resource a handler uses, located by an environment variable of its function (a `!Ref` in
/// `template.yaml`). Each registry row lists the ones its handler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    PlaceTable,
    ReservationTable,
    PaymentTable,
    MyPageTable,
    OwnerViewTable,
    NotificationTable,
    LoyaltyTable,
    SearchTable,
    /// The state machine a saga starter starts.
    SagaStateMachine,
}

impl Resource {
    pub const ALL: [Resource; 9] = [
        Self::PlaceTable,
        Self::ReservationTable,
        Self::PaymentTable,
        Self::MyPageTable,
        Self::OwnerViewTable,
        Self::NotificationTable,
        Self::LoyaltyTable,
        Self::SearchTable,
        Self::SagaStateMachine,
    ];

    /// The environment variable that names it.
    pub fn var(self) -> &'static str {
        match self {
            Self::PlaceTable => "PLACE_TABLE",
            Self::ReservationTable => "RESERVATION_TABLE",
            Self::PaymentTable => "PAYMENT_TABLE",
            Self::MyPageTable => "MYPAGE_TABLE",
            Self::OwnerViewTable => "OWNER_VIEW_TABLE",
            Self::NotificationTable => "NOTIFICATION_TABLE",
            Self::LoyaltyTable => "LOYALTY_TABLE",
            Self::SearchTable => "SEARCH_TABLE",
            Self::SagaStateMachine => SAGA_STATE_MACHINE_ARN,
        }
    }

    pub fn is_table(self) -> bool {
        self != Self::SagaStateMachine
    }
}

/// Why a function cannot start: its environment lacks or garbles a variable it needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set, and this function uses it")]
    Missing { var: &'static str },
    #[error("{var}={value:?} is not a whole number")]
    NotANumber { var: &'static str, value: String },
    #[error("{var}={value} is out of range: it must be between {min} and {max}")]
    OutOfRange {
        var: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
}

impl ConfigError {
    /// The variable at fault.
    pub fn var(&self) -> &'static str {
        match self {
            Self::Missing { var } | Self::NotANumber { var, .. } | Self::OutOfRange { var, .. } => {
                var
            }
        }
    }
}

/// Configuration read from the function's environment (template parameters on AWS).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub owner_timeout_seconds: u64,
    pub breaker: BreakerPolicy,
    pub payment_timeout_ms: u64,
    pub quote_validity_seconds: u64,
    pub consumer_retry: crate::queue::ConsumerRetry,
    /// The name (a table) or ARN (the state machine) of each resource the function uses.
    pub resources: BTreeMap<Resource, String>,
}

/// A numeric variable: its default when unset (the template's parameter default) and the range
/// its use admits (the template's `MinValue`, and what the value is converted to).
struct Number {
    var: &'static str,
    default: u64,
    min: u64,
    max: u64,
}

impl Number {
    fn read(&self, env: &BTreeMap<String, String>) -> Result<u64, ConfigError> {
        let Some(text) = env.get(self.var) else {
            return Ok(self.default);
        };
        let value = text
            .trim()
            .parse::<u64>()
            .map_err(|_| ConfigError::NotANumber {
                var: self.var,
                value: text.clone(),
            })?;
        if !(self.min..=self.max).contains(&value) {
            return Err(ConfigError::OutOfRange {
                var: self.var,
                value,
                min: self.min,
                max: self.max,
            });
        }
        Ok(value)
    }
}

const OWNER_TIMEOUT: Number = Number {
    var: "OWNER_DECISION_TIMEOUT_SECONDS",
    default: 86_400,
    min: 1,
    max: u64::MAX,
};
const FAILURE_THRESHOLD: Number = Number {
    var: "PAYMENT_FAILURE_THRESHOLD",
    default: 5,
    min: 1,
    max: 1_000,
};
const OPEN_SECONDS: Number = Number {
    var: "PAYMENT_OPEN_SECONDS",
    default: 10,
    min: 1,
    // Kept in milliseconds as an i64.
    max: i64::MAX as u64 / 1_000,
};
const PAYMENT_TIMEOUT: Number = Number {
    var: "PAYMENT_TIMEOUT_MILLIS",
    default: 2_000,
    min: 0,
    max: u64::MAX,
};
const QUOTE_VALIDITY: Number = Number {
    var: "QUOTE_VALIDITY_SECONDS",
    default: reserveplace_domain::place::DEFAULT_QUOTE_VALIDITY_SECONDS,
    min: 1,
    max: 86_400,
};

const RETRY_FIRST: Number = Number {
    var: "CONSUMER_RETRY_FIRST_SECONDS",
    default: 10,
    min: 0,
    max: 43_200,
};
// SQS's longest visibility timeout.
const RETRY_MAX: Number = Number {
    var: "CONSUMER_RETRY_MAX_SECONDS",
    default: 900,
    min: 0,
    max: 43_200,
};

impl Config {
    /// Reads the tunables and locates the resources in `uses`; every variable is checked here.
    pub fn from_env(
        env: &BTreeMap<String, String>,
        uses: &[Resource],
    ) -> Result<Config, ConfigError> {
        let mut resources = BTreeMap::new();
        for &r in uses {
            let value = env
                .get(r.var())
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing { var: r.var() })?;
            resources.insert(r, value.to_owned());
        }
        let failure_threshold = FAILURE_THRESHOLD.read(env)?;
        let open_seconds = OPEN_SECONDS.read(env)?;
        Ok(Config {
            owner_timeout_seconds: OWNER_TIMEOUT.read(env)?,
            breaker: BreakerPolicy {
                failure_threshold: u32::try_from(failure_threshold).unwrap_or(u32::MAX),
                open_for_ms: i64::try_from(open_seconds * 1_000).unwrap_or(i64::MAX),
            },
            payment_timeout_ms: PAYMENT_TIMEOUT.read(env)?,
            quote_validity_seconds: QUOTE_VALIDITY.read(env)?,
            consumer_retry: crate::queue::ConsumerRetry {
                first_seconds: RETRY_FIRST.read(env)?,
                max_seconds: RETRY_MAX.read(env)?,
            },
            resources,
        })
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
    /// The provider's webhooks, when the provider sends any (Stripe; not the simulation).
    pub payment_notices: Option<Arc<dyn NoticeReader>>,
    pub saga: Arc<dyn SagaCallbacks>,
    pub saga_starter: SagaStarterOpener,
    pub notifications: Arc<dyn NotificationChannel>,
}

/// Every use case; those over a table the function does not use fail each call as misconfigured.
pub struct Services {
    pub places: PlaceService,
    pub reservations: ReservationService,
    pub payments: PaymentService,
    pub payment_notices: Option<Arc<dyn NoticeReader>>,
    pub mypages: MyPageService,
    pub owner_view: OwnerViewService,
    pub notifications: NotificationService,
    pub loyalty: LoyaltyService,
    pub search: SearchService,
    pub saga: Arc<dyn SagaCallbacks>,
    /// The state machine of `SAGA_STATE_MACHINE_ARN`; `None` for functions that start no saga.
    pub saga_starter: Option<Arc<dyn SagaStarter>>,
    /// An event consumer's backoff for the records it fails on.
    pub consumer_retry: crate::queue::ConsumerRetry,
}

impl Services {
    /// The services of a function that uses `uses`, configured by `env`.
    pub fn build(
        env: &BTreeMap<String, String>,
        uses: &[Resource],
        a: &Adapters,
    ) -> Result<Services, ConfigError> {
        Ok(Self::new(&Config::from_env(env, uses)?, a))
    }

    /// The services over the resources `config` located; no other table is opened.
    pub fn new(config: &Config, a: &Adapters) -> Services {
        let table = |r: Resource| -> Arc<dyn Table> {
            match config.resources.get(&r) {
                Some(name) => (a.table)(name),
                None => Arc::new(Unused(r)),
            }
        };
        let provider: Arc<dyn PaymentProvider> = Arc::new(crate::adapters::TimeoutProvider::new(
            a.payment_provider.clone(),
            config.payment_timeout_ms,
        ));
        Services {
            places: PlaceService::new(
                table(Resource::PlaceTable),
                a.clock.clone(),
                config.owner_timeout_seconds,
            )
            .with_quote_validity(config.quote_validity_seconds),
            reservations: ReservationService::new(
                table(Resource::ReservationTable),
                table(Resource::PlaceTable),
                a.clock.clone(),
            )
            .with_catalogue_wait(Arc::new(crate::adapters::TokioSleeper)),
            payments: PaymentService::new(
                table(Resource::PaymentTable),
                a.clock.clone(),
                provider,
                config.breaker,
            ),
            payment_notices: a.payment_notices.clone(),
            mypages: MyPageService::new(table(Resource::MyPageTable)),
            owner_view: OwnerViewService::new(table(Resource::OwnerViewTable)),
            notifications: NotificationService::new(
                table(Resource::NotificationTable),
                a.notifications.clone(),
            ),
            loyalty: LoyaltyService::new(table(Resource::LoyaltyTable)),
            search: SearchService::new(table(Resource::SearchTable), a.clock.clone()),
            saga: a.saga.clone(),
            saga_starter: config
                .resources
                .get(&Resource::SagaStateMachine)
                .map(|arn| (a.saga_starter)(arn)),
            consumer_retry: config.consumer_retry,
        }
    }
}

/// A table the function's registry row does not list. Reaching it is a fault of the deployment
/// (the row, and the function's policy, leave it out), so every call fails as misconfigured.
struct Unused(Resource);

impl Unused {
    fn refused<T>(&self) -> Result<T, StoreError> {
        Err(StoreError::Misconfigured(format!(
            "{} is not a resource of this function (its registry row does not list it)",
            self.0.var()
        )))
    }
}

#[async_trait]
impl Table for Unused {
    async fn get(&self, _: &Key) -> Result<Option<Item>, StoreError> {
        self.refused()
    }
    async fn query(&self, _: &Query) -> Result<Vec<Item>, StoreError> {
        self.refused()
    }
    async fn transact(&self, _: Vec<Write>, _: Vec<DomainEvent>) -> Result<(), StoreError> {
        self.refused()
    }
    async fn increment(&self, _: &Key, _: &str, _: i64) -> Result<i64, StoreError> {
        self.refused()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_missing_table_variable_is_an_error_naming_it() {
        let err = Config::from_env(&env(&[("PLACE_TABLE", "p")]), &[Resource::PaymentTable])
            .expect_err("PAYMENT_TABLE is missing");
        assert_eq!(
            err,
            ConfigError::Missing {
                var: "PAYMENT_TABLE"
            }
        );
        assert!(err.to_string().contains("PAYMENT_TABLE"), "{err}");
        let err = Config::from_env(&env(&[("PAYMENT_TABLE", " ")]), &[Resource::PaymentTable])
            .expect_err("PAYMENT_TABLE is empty");
        assert_eq!(err.var(), "PAYMENT_TABLE");
        let err = Config::from_env(&BTreeMap::new(), &[Resource::SagaStateMachine])
            .expect_err("no state machine");
        assert!(err.to_string().contains(SAGA_STATE_MACHINE_ARN), "{err}");
    }

    #[test]
    fn only_the_resources_a_function_uses_are_required() {
        let c = Config::from_env(&env(&[("PLACE_TABLE", "Places")]), &[Resource::PlaceTable])
            .expect("the place table is all it uses");
        assert_eq!(
            c.resources,
            BTreeMap::from([(Resource::PlaceTable, "Places".to_owned())])
        );
    }

    #[test]
    fn a_malformed_number_is_an_error_naming_its_variable() {
        for var in [
            "OWNER_DECISION_TIMEOUT_SECONDS",
            "PAYMENT_FAILURE_THRESHOLD",
            "PAYMENT_OPEN_SECONDS",
            "PAYMENT_TIMEOUT_MILLIS",
        ] {
            for bad in ["", "ten", "-1", "1.5"] {
                let err =
                    Config::from_env(&env(&[(var, bad)]), &[]).expect_err("a malformed number");
                assert_eq!(err.var(), var, "{err}");
                assert!(err.to_string().starts_with(var), "{err}");
            }
        }
    }

    #[test]
    fn a_number_out_of_its_range_is_an_error_not_a_clamp() {
        for (var, bad) in [
            ("OWNER_DECISION_TIMEOUT_SECONDS", "0"),
            ("PAYMENT_FAILURE_THRESHOLD", "0"),
            ("PAYMENT_FAILURE_THRESHOLD", "1001"),
            ("PAYMENT_OPEN_SECONDS", "0"),
        ] {
            let err = Config::from_env(&env(&[(var, bad)]), &[]).expect_err("out of range");
            assert!(
                matches!(err, ConfigError::OutOfRange { var: v, .. } if v == var),
                "{err}"
            );
        }
    }

    #[test]
    fn unset_numbers_take_the_templates_defaults_and_set_ones_are_read() {
        let c = Config::from_env(&BTreeMap::new(), &[]).expect("defaults");
        assert_eq!(
            (c.owner_timeout_seconds, c.breaker, c.payment_timeout_ms),
            (86_400, BreakerPolicy::default(), 2_000)
        );
        let c = Config::from_env(
            &env(&[
                ("OWNER_DECISION_TIMEOUT_SECONDS", "2"),
                ("PAYMENT_FAILURE_THRESHOLD", " 3 "),
                ("PAYMENT_OPEN_SECONDS", "4"),
                ("PAYMENT_TIMEOUT_MILLIS", "0"),
            ]),
            &[],
        )
        .expect("set");
        assert_eq!(c.owner_timeout_seconds, 2);
        assert_eq!(
            c.breaker,
            BreakerPolicy {
                failure_threshold: 3,
                open_for_ms: 4_000
            }
        );
        assert_eq!(c.payment_timeout_ms, 0);
    }
}
