//! The domain's `Sleeper` port on the tokio timer (the same on AWS and locally).
use std::time::Duration;

use async_trait::async_trait;
use reserveplace_domain::clock::Sleeper;

pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
