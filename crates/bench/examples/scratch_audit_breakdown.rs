// TEMPORARY scratch experiment; deleted after use.
use release_desk_audit::{entry_hash, seal, ChainHash, EntryDraft};
use release_desk_store::Store;
use sqlx::Row;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let n: u64 = 1_000_000;
    let dir = std::path::PathBuf::from("/tmp/audit-scratch");
    let file = dir.join("db.sqlite3");
    let fresh = !file.exists();
    let (store, _) = Store::open(&file).await.unwrap();
    let detail = "x".repeat(118);
    let mk = |i: u64| EntryDraft {
        at: chrono::DateTime::from_timestamp_millis(1_767_225_600_000 + i as i64 * 31_000).unwrap(),
        actor: "Priya Raman".into(),
        action: "change.transition".into(),
        subject: format!("change:{}", i / 10 + 1),
        detail: format!("{{\"d\":\"{detail}\"}}"),
    };
    if fresh {
        let mut head = None;
        let mut i = 0;
        while i < n {
            let mut tx = store.pool().begin().await.unwrap();
            for j in i..(i + 10_000).min(n) {
                let e = seal(head, mk(j));
                sqlx::query("INSERT INTO audit_log (seq, at_ms, actor, action, subject, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)")
                    .bind(e.seq).bind(e.at_ms).bind(&e.actor).bind(&e.action).bind(&e.subject).bind(&e.detail).bind(&e.prev_hash.0[..]).bind(&e.hash.0[..])
                    .execute(&mut *tx).await.unwrap();
                head = Some((e.seq, e.hash));
            }
            tx.commit().await.unwrap();
            i += 10_000;
        }
    }
    // (b) hashing only, from memory
    let drafts: Vec<EntryDraft> = (0..n).map(mk).collect();
    for _ in 0..3 {
        let t = Instant::now();
        let mut prev = ChainHash::GENESIS;
        for (i, d) in drafts.iter().enumerate() {
            prev = entry_hash(i as i64 + 1, d.at.timestamp_millis(), &d.actor, &d.action, &d.subject, &d.detail, &prev);
        }
        println!("hash only: {:.3} s ({})", t.elapsed().as_secs_f64(), prev.0[0]);
    }
    drop(drafts);
    // (a) streaming rows, reading the columns, no hashing
    for _ in 0..3 {
        let t = Instant::now();
        let mut conn = store.pool().acquire().await.unwrap();
        let mut rows = sqlx::query("SELECT seq, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log ORDER BY seq").fetch(&mut *conn);
        let mut total = 0usize;
        use futures_util::TryStreamExt;
        while let Some(r) = rows.try_next().await.unwrap() {
            let a: &str = r.get(2); let d: &str = r.get(5); let h: &[u8] = r.get(7);
            total += a.len() + d.len() + h.len();
        }
        println!("stream only: {:.3} s ({total})", t.elapsed().as_secs_f64());
    }
    for _ in 0..3 {
        let t = Instant::now();
        let v = store.verify_audit().await.unwrap();
        println!("verify_audit: {:.3} s intact={} {}", t.elapsed().as_secs_f64(), v.intact, v.entries);
    }
    store.close().await;
}
