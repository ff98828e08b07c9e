//! Creating a collection: vectors, sparse BM25, metadata, sharding, quantisation, payload indexes.

use super::{DENSE, SPARSE, ServerIndex, Tenancy};
use crate::IndexError;
use crate::record::keys;
use qdrant_client::qdrant::{
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, Distance, FieldType, KeywordIndexParamsBuilder,
    Modifier, QuantizationType, ScalarQuantizationBuilder, ShardingMethod, SparseVectorParamsBuilder,
    SparseVectorsConfigBuilder, VectorParamsBuilder, VectorsConfigBuilder,
};
use std::collections::HashMap;

impl ServerIndex {
    pub(super) async fn create(&self, model_id: &str, dim: usize) -> Result<(), IndexError> {
        let (layout, bm25, name) = (&self.config.layout, self.config.bm25, &self.config.collection);
        let mut vectors = VectorsConfigBuilder::default();
        let mut dense = VectorParamsBuilder::new(dim as u64, Distance::Cosine);
        if layout.quantization {
            dense = dense.on_disk(true);
        }
        vectors.add_named_vector_params(DENSE, dense);
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(SPARSE, SparseVectorParamsBuilder::default().modifier(Modifier::Idf));
        let tenancy = match self.tenancy {
            Tenancy::Payload => "payload",
            Tenancy::Tiered => "tiered",
        };
        let metadata: HashMap<String, serde_json::Value> = [
            ("model_id".to_owned(), model_id.into()),
            ("dim".to_owned(), dim.into()),
            ("bm25_k1".to_owned(), f64::from(bm25.k1).into()),
            ("bm25_b".to_owned(), f64::from(bm25.b).into()),
            ("bm25_avg_len".to_owned(), f64::from(bm25.avg_len).into()),
            ("tenancy".to_owned(), tenancy.into()),
        ]
        .into();
        let mut create =
            CreateCollectionBuilder::new(name).vectors_config(vectors).sparse_vectors_config(sparse).metadata(metadata);
        if self.tenancy == Tenancy::Tiered {
            create = create.sharding_method(ShardingMethod::Custom.into());
        } else if let Some(n) = layout.shards {
            create = create.shard_number(n);
        }
        if let Some(rf) = layout.replication_factor {
            create = create.replication_factor(rf);
        }
        if let Some(w) = layout.write_consistency {
            create = create.write_consistency_factor(w);
        }
        if layout.quantization {
            create = create.quantization_config(
                ScalarQuantizationBuilder::default().r#type(QuantizationType::Int8.into()).always_ram(true),
            );
        }
        self.call(|c| {
            let create = create.clone();
            async move { c.create_collection(create).await }
        })
        .await?;
        if self.tenancy == Tenancy::Tiered {
            self.create_shared_key().await?;
        }
        let tenant = CreateFieldIndexCollectionBuilder::new(name, keys::TENANT, FieldType::Keyword)
            .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
            .wait(true);
        let mut indexes = vec![tenant];
        for (field, kind) in [
            (keys::DOC_ID, FieldType::Keyword),
            (keys::SOURCE, FieldType::Keyword),
            (keys::PAGE_START, FieldType::Integer),
            (keys::PAGE_END, FieldType::Integer),
        ] {
            indexes.push(CreateFieldIndexCollectionBuilder::new(name, field, kind).wait(true));
        }
        for req in indexes {
            self.call(|c| {
                let req = req.clone();
                async move { c.create_field_index(req).await }
            })
            .await?;
        }
        Ok(())
    }
}
