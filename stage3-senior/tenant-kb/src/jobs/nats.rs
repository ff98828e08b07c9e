//! The shared queue: NATS JetStream, for workers in several processes or machines. The job's row
//! (state, attempts, the sealed payload) stays in the registry; the stream carries only job ids,
//! one subject per tenant (`<stream>.jobs.<tenant>`), with work-queue retention. One durable pull
//! consumer is shared by every worker, so each message goes to one worker at a time; a message
//! not acknowledged within the lease (`job_lease_ms`, the consumer's `ack_wait`) is delivered
//! again, which is how a killed worker's job reaches another. A retry is a negative
//! acknowledgement with the backoff as its delay.
//!
//! Production note: a job running longer than the lease is delivered to a second worker while
//! the first still works (harmless: indexing replaces by id, and the stale result is ignored,
//! but the work is done twice); long jobs should send progress acknowledgements. The registry
//! must be shared by every worker (one file on one machine here; PostgreSQL for several
//! machines, issue 16's capacity chapter).

use crate::KbError;
use async_nats::jetstream::{self, consumer::PullConsumer, stream::Stream};
use futures::StreamExt;
use std::time::Duration;

fn unavailable(e: impl std::fmt::Display) -> KbError {
    KbError::Unavailable { what: "job queue (NATS)", detail: e.to_string() }
}

#[derive(Debug)]
pub(crate) struct NatsQueue {
    js: jetstream::Context,
    stream: Stream,
    consumer: PullConsumer,
    name: String,
}

/// A delivered job id and the handle that acknowledges it.
pub(crate) type Delivery = jetstream::Message;

impl NatsQueue {
    pub async fn connect(url: &str, name: &str, lease: Duration) -> Result<Self, KbError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(3))
            .name("tenant-kb")
            .connect(url)
            .await
            .map_err(unavailable)?;
        let js = jetstream::new(client);
        let config = jetstream::stream::Config {
            name: name.to_owned(),
            subjects: vec![format!("{name}.jobs.>")],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        let stream = js.get_or_create_stream(config).await.map_err(unavailable)?;
        let consumer = stream
            .get_or_create_consumer(
                "workers",
                jetstream::consumer::pull::Config {
                    durable_name: Some("workers".into()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: lease,
                    // Attempts are counted and capped in the registry, not here.
                    max_deliver: -1,
                    ..Default::default()
                },
            )
            .await
            .map_err(unavailable)?;
        Ok(Self { js, stream, consumer, name: name.to_owned() })
    }

    /// Publishes a job id and waits for the server to store it.
    pub async fn publish(&self, tenant: &str, job: &str) -> Result<(), KbError> {
        let ack = self
            .js
            .publish(format!("{}.jobs.{tenant}", self.name), job.to_owned().into())
            .await
            .map_err(unavailable)?;
        ack.await.map_err(unavailable)?;
        Ok(())
    }

    /// The next delivery, waiting up to `wait`.
    pub async fn next(&self, wait: Duration) -> Result<Option<Delivery>, KbError> {
        let mut batch = self.consumer.fetch().max_messages(1).expires(wait).messages().await.map_err(unavailable)?;
        match batch.next().await {
            Some(Ok(m)) => Ok(Some(m)),
            Some(Err(e)) => Err(unavailable(e)),
            None => Ok(None),
        }
    }

    /// Removes every queued id of a tenant (erasure).
    pub async fn purge(&self, tenant: &str) -> Result<(), KbError> {
        self.stream.purge().filter(format!("{}.jobs.{tenant}", self.name)).await.map_err(unavailable)?;
        Ok(())
    }
}

/// Done with a delivery: acknowledged, or handed back for a retry after `delay`.
pub(crate) async fn settle(d: &Delivery, retry_after: Option<Duration>) -> Result<(), KbError> {
    match retry_after {
        None => d.ack().await.map_err(unavailable),
        Some(delay) => d.ack_with(jetstream::AckKind::Nak(Some(delay))).await.map_err(unavailable),
    }
}
