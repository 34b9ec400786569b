//! The optimistic write loop every aggregate uses: read, decide, commit conditionally, and read
//! again when another writer got there first (the store answered ConditionFailed).
use crate::error::{DomainError, DomainResult};
use crate::events::DomainEvent;
use crate::store::{StoreError, Table, Write};

/// Upper bound on attempts; only reached under pathological contention.
pub(crate) const MAX_ATTEMPTS: usize = 64;

/// What one attempt decided.
pub(crate) enum Attempt<T> {
    /// Nothing (more) to write: the answer.
    Done(T),
    /// Commit these writes and events in one transaction; the answer if it commits.
    Commit {
        writes: Vec<Write>,
        events: Vec<DomainEvent>,
        then: T,
    },
    /// What was read is stale already: read again.
    Retry,
}

impl<T> Attempt<T> {
    pub(crate) fn commit(writes: Vec<Write>, events: Vec<DomainEvent>, then: T) -> Self {
        Self::Commit {
            writes,
            events,
            then,
        }
    }
}

/// Runs `attempt` until it is done or its commit succeeds. Each attempt receives the write
/// indices that failed their condition in the previous one (`None` on the first), for the few
/// callers whose answer depends on which condition failed. After `MAX_ATTEMPTS` conflicts the
/// answer is `Unavailable("<contended>; retry")`.
pub(crate) async fn until_committed<T, F, Fut>(
    table: &dyn Table,
    contended: &str,
    mut attempt: F,
) -> DomainResult<T>
where
    F: FnMut(Option<Vec<usize>>) -> Fut,
    Fut: Future<Output = DomainResult<Attempt<T>>>,
{
    let mut conflict = None;
    for _ in 0..MAX_ATTEMPTS {
        match attempt(conflict.take()).await? {
            Attempt::Done(answer) => return Ok(answer),
            Attempt::Retry => {}
            Attempt::Commit {
                writes,
                events,
                then,
            } => match table.transact(writes, events).await {
                Ok(()) => return Ok(then),
                Err(StoreError::ConditionFailed { failed }) => conflict = Some(failed),
                Err(e) => return Err(e.into()),
            },
        }
    }
    Err(DomainError::Unavailable(format!("{contended}; retry")))
}
