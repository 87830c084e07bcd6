//! What the change form offers: each service with its recent artefacts, newest first.

use chrono::{DateTime, Utc};
use release_desk_domain::{Digest, Slug};
use serde::Serialize;
use specta::Type;

use crate::error::Result;
use crate::row::RowExt;
use crate::time::from_ms;
use crate::Store;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ArtefactChoice {
    pub version: String,
    pub digest: Digest,
    pub created_at: DateTime<Utc>,
    pub commits: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ServiceChoice {
    pub key: Slug,
    pub name: String,
    pub artefacts: Vec<ArtefactChoice>,
}

/// How many recent builds per service the form lists.
const RECENT_BUILDS: i64 = 25;

impl Store {
    pub async fn artefact_choices(&self) -> Result<Vec<ServiceChoice>> {
        let rows = sqlx::query(
            "SELECT s.key, s.name, a.version, a.digest, a.created_at_ms,
                    (SELECT COUNT(*) FROM artefact_commits c WHERE c.artefact_id = a.id)
             FROM services s
             JOIN (SELECT *, ROW_NUMBER() OVER (PARTITION BY service_id ORDER BY created_at_ms DESC, id DESC) AS n
                   FROM artefacts) a ON a.service_id = s.id AND a.n <= ?
             ORDER BY s.name, a.created_at_ms DESC, a.id DESC",
        )
        .bind(RECENT_BUILDS)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        let mut out: Vec<ServiceChoice> = Vec::new();
        for r in &rows {
            let r = r.fields("an artefact");
            let key = Slug::parse(r.col(0)?)?;
            if out.last().is_none_or(|s| s.key != key) {
                out.push(ServiceChoice {
                    key: key.clone(),
                    name: r.col(1)?,
                    artefacts: Vec::new(),
                });
            }
            if let Some(service) = out.last_mut() {
                service.artefacts.push(ArtefactChoice {
                    version: r.col(2)?,
                    digest: Digest::parse(r.col(3)?)?,
                    created_at: from_ms(r.col(4)?),
                    commits: u32::try_from(r.col::<i64>(5)?).unwrap_or(0),
                });
            }
        }
        Ok(out)
    }
}
