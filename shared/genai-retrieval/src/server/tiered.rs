//! Tiered multitenancy on a Qdrant cluster (ADR 0012): small tenants share the `shared` shard
//! key, partitioned by the `tenant` payload index (`is_tenant`); a tenant promoted with
//! [`Index::dedicate_tenant`](crate::Index::dedicate_tenant) gets a shard key of its own.
//!
//! Routing uses Qdrant's fallback selector (`{target: tenant, fallback: shared}`): writes and
//! tenant-pinned searches go to the tenant's own shard when it exists and to the shared one
//! otherwise, so no client needs to know which tenants were promoted. Promotion is: create the
//! tenant's shard key in state `Partial`, copy the tenant's points into it with Qdrant's
//! `replicate_points` transfer (writes keep landing in both during the copy), wait until the
//! shard is `Active`, then delete the tenant's copies from the shared shard.

use super::ServerIndex;
use super::convert::to_qdrant;
use crate::{Filter, IndexError, TenantPlacement};
use qdrant_client::qdrant::{
    CollectionClusterInfoRequest, CreateShardKeyBuilder, CreateShardKeyRequestBuilder, DeletePointsBuilder,
    ReplicaState, ReplicatePointsBuilder, ReplicateShard, ShardKey, ShardKeySelector, ShardKeySelectorBuilder,
    UpdateCollectionClusterSetupRequestBuilder, shard_key, update_collection_cluster_setup_request::Operation,
};
use std::time::{Duration, Instant};

/// The shard key every tenant without its own shard lives in.
pub(super) const SHARED: &str = "shared";

/// How long a promotion may take before it is reported as failed (the copy keeps running on
/// the server; calling again resumes waiting).
const PROMOTION_TIMEOUT: Duration = Duration::from_secs(300);

/// Where a write or a tenant-pinned read goes.
pub(super) fn selector(tenant: Option<&str>) -> ShardKeySelector {
    match tenant {
        Some(t) => ShardKeySelectorBuilder::with_shard_key(t.to_owned()).fallback(SHARED.to_owned()).build(),
        None => ShardKeySelectorBuilder::with_shard_key(SHARED.to_owned()).build(),
    }
}

/// One copy of one shard.
struct Replica {
    key: Option<String>,
    shard_id: u32,
    peer_id: u64,
    state: i32,
}

struct Replicas {
    all: Vec<Replica>,
    /// Shard transfers in progress (one at a time keeps recovery simple).
    transfers: usize,
}

impl Replicas {
    fn of<'a>(&'a self, tenant: &'a str) -> impl Iterator<Item = &'a Replica> + 'a {
        self.all.iter().filter(move |r| r.key.as_deref() == Some(tenant))
    }
}

fn key_name(key: Option<&ShardKey>) -> Option<&str> {
    match key?.key.as_ref()? {
        shard_key::Key::Keyword(k) => Some(k.as_str()),
        shard_key::Key::Number(_) => None,
    }
}

impl ServerIndex {
    /// Creates the shared shard key of a new tiered collection.
    pub(super) async fn create_shared_key(&self) -> Result<(), IndexError> {
        let layout = &self.config.layout;
        let mut key = CreateShardKeyBuilder::default().shard_key(SHARED.to_owned());
        if let Some(n) = layout.shards {
            key = key.shards_number(n);
        }
        if let Some(rf) = layout.replication_factor {
            key = key.replication_factor(rf);
        }
        let req = CreateShardKeyRequestBuilder::new(&self.config.collection).request(key.build());
        self.call(|c| {
            let req = req.clone();
            async move { c.create_shard_key(req).await }
        })
        .await?;
        Ok(())
    }

    /// Every replica of the collection as the answering node sees it.
    async fn replicas(&self) -> Result<Replicas, IndexError> {
        let name = self.config.collection.clone();
        let info = self
            .call(|c| {
                let name = name.clone();
                async move { c.collection_cluster_info(CollectionClusterInfoRequest { collection_name: name }).await }
            })
            .await?;
        let me = info.peer_id;
        let local = info.local_shards.iter().map(|s| Replica {
            key: key_name(s.shard_key.as_ref()).map(str::to_owned),
            shard_id: s.shard_id,
            peer_id: me,
            state: s.state,
        });
        let remote = info.remote_shards.iter().map(|s| Replica {
            key: key_name(s.shard_key.as_ref()).map(str::to_owned),
            shard_id: s.shard_id,
            peer_id: s.peer_id,
            state: s.state,
        });
        Ok(Replicas { all: local.chain(remote).collect(), transfers: info.shard_transfers.len() })
    }

    async fn key_states(&self, tenant: &str) -> Result<Vec<i32>, IndexError> {
        Ok(self.replicas().await?.of(tenant).map(|r| r.state).collect())
    }

    /// Adds replicas of the tenant's shard on peers that lack one, until the collection's
    /// replication factor is met and every replica is active.
    async fn replicate_key(&self, tenant: &str, deadline: Instant) -> Result<(), IndexError> {
        let want = self.config.layout.replication_factor.unwrap_or(1).max(1) as usize;
        loop {
            let replicas = self.replicas().await?;
            let mine: Vec<&Replica> = replicas.of(tenant).collect();
            let active = mine.iter().all(|r| r.state == ReplicaState::Active as i32);
            if mine.len() >= want && active {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(IndexError::PromotionTimeout { tenant: tenant.to_owned(), waited: PROMOTION_TIMEOUT });
            }
            let peers: std::collections::BTreeSet<u64> = replicas.all.iter().map(|r| r.peer_id).collect();
            let source = mine.iter().find(|r| r.state == ReplicaState::Active as i32);
            let target = peers.iter().find(|p| !mine.iter().any(|r| r.peer_id == **p));
            if let (true, 0, Some(source), Some(&to)) = (mine.len() < want, replicas.transfers, source, target) {
                let op = UpdateCollectionClusterSetupRequestBuilder::new(
                    &self.config.collection,
                    Operation::ReplicateShard(ReplicateShard {
                        shard_id: source.shard_id,
                        to_shard_id: None,
                        from_peer_id: source.peer_id,
                        to_peer_id: to,
                        method: None,
                    }),
                );
                self.call(|c| {
                    let op = op.clone();
                    async move { c.update_collection_cluster_setup(op).await }
                })
                .await?;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(super) async fn promote(&self, tenant: &str) -> Result<TenantPlacement, IndexError> {
        if tenant == SHARED || tenant.is_empty() {
            return Err(IndexError::InvalidRequest { reason: "that name is reserved for the shared shard key" });
        }
        let mut states = self.key_states(tenant).await?;
        if states.is_empty() {
            // One replica: Qdrant copies points only into a single-replica shard key.
            let key = CreateShardKeyBuilder::default()
                .shard_key(tenant.to_owned())
                .shards_number(1)
                .replication_factor(1)
                .initial_state(ReplicaState::Partial);
            let req = CreateShardKeyRequestBuilder::new(&self.config.collection).request(key.build());
            self.call(|c| {
                let req = req.clone();
                async move { c.create_shard_key(req).await }
            })
            .await?;
            let copy = ReplicatePointsBuilder::new(SHARED.to_owned(), tenant.to_owned())
                .filter(to_qdrant(&Filter::tenant(tenant)))
                .build();
            let op = UpdateCollectionClusterSetupRequestBuilder::new(
                &self.config.collection,
                Operation::ReplicatePoints(copy),
            );
            self.call(|c| {
                let op = op.clone();
                async move { c.update_collection_cluster_setup(op).await }
            })
            .await?;
            states = self.key_states(tenant).await?;
        }
        let deadline = Instant::now() + PROMOTION_TIMEOUT;
        while !states.contains(&(ReplicaState::Active as i32)) {
            if Instant::now() > deadline {
                return Err(IndexError::PromotionTimeout { tenant: tenant.to_owned(), waited: PROMOTION_TIMEOUT });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            states = self.key_states(tenant).await?;
        }
        self.replicate_key(tenant, deadline).await?;
        // The copy is complete and every replica serves reads: drop the shared copies.
        let delete = DeletePointsBuilder::new(&self.config.collection)
            .points(to_qdrant(&Filter::tenant(tenant)))
            .shard_key_selector(selector(None))
            .wait(true);
        self.call(|c| {
            let delete = delete.clone();
            async move { c.delete_points(delete).await }
        })
        .await?;
        Ok(TenantPlacement::Dedicated { shard_key: tenant.to_owned() })
    }
}
