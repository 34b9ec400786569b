use async_trait::async_trait;
use reserveplace_domain::error::DomainResult;
use reserveplace_domain::views::{Notification, NotificationChannel};

/// The default channel: the notification is already stored; this logs it.
pub struct LogChannel;

#[async_trait]
impl NotificationChannel for LogChannel {
    async fn send(&self, n: &Notification) -> DomainResult<()> {
        tracing::info!(reservation_id = %n.reservation_id, user_id = %n.user_id, status = %n.status, message = %n.message, "notification");
        Ok(())
    }
}
