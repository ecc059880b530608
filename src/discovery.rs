//! Job discovery: page through the batch list, keep the finished jobs, sort them into batch size
//! buckets, and hand per-job checks a rotating choice of jobs from each bucket.
//!
//! Discovery owns the [`JobPools`]; the scheduler reads them. Job names never leave this module
//! as labels: only bucket labels and counts do.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use crate::provider::{DiscoveredJob, ListPage};
use crate::slice::SizeBuckets;

/// The jobs known for one (target, API version), by batch size bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobPool {
    /// Finished jobs with results, by bucket label, in list order.
    pub by_bucket: BTreeMap<String, Vec<DiscoveredJob>>,
    /// How many listed jobs were in each (bucket, state), for `batchprobe_jobs_discovered`.
    /// Jobs without a request count are counted under the bucket `unknown`.
    pub counts: BTreeMap<(String, String), u64>,
}

impl JobPool {
    /// Builds a pool from listed jobs.
    pub fn from_jobs(
        jobs: &[DiscoveredJob],
        buckets: &SizeBuckets,
        is_done: impl Fn(&DiscoveredJob) -> bool,
    ) -> JobPool {
        let mut pool = JobPool::default();

        for job in jobs {
            let bucket = job
                .size
                .map_or_else(|| "unknown".to_string(), |s| buckets.label(s));
            *pool
                .counts
                .entry((bucket.clone(), job.state.clone()))
                .or_default() += 1;

            if job.size.is_some() && is_done(job) {
                pool.by_bucket.entry(bucket).or_default().push(job.clone());
            }
        }
        pool
    }

    /// The job a check with `slot` of `per_bucket` picks in its `round`: each round moves every
    /// slot on by `per_bucket`, so the slots together rotate through the whole bucket.
    pub fn pick(
        &self,
        bucket: &str,
        slot: u32,
        per_bucket: u32,
        round: u64,
    ) -> Option<&DiscoveredJob> {
        let jobs = self.by_bucket.get(bucket)?;
        if (slot as usize) >= jobs.len() && round == 0 {
            // Fewer jobs than slots: extra slots stay idle rather than fetch a job twice a round.
            return None;
        }
        let index = (u64::from(slot) + round * u64::from(per_bucket)) % jobs.len() as u64;
        jobs.get(index as usize)
    }
}

/// Pools of every (target index, API version), shared between discovery and the checks.
#[derive(Debug, Default)]
pub struct JobPools {
    pools: RwLock<HashMap<(usize, String), JobPool>>,
}

impl JobPools {
    /// Replaces the pool of one (target, version).
    pub fn replace(&self, target: usize, api_version: &str, pool: JobPool) {
        let mut pools = self.pools.write().expect("job pools lock poisoned");
        pools.insert((target, api_version.to_string()), pool);
    }

    /// Runs `f` on the pool of one (target, version), if discovery has filled it.
    pub fn with_pool<T>(
        &self,
        target: usize,
        api_version: &str,
        f: impl FnOnce(&JobPool) -> T,
    ) -> Option<T> {
        let pools = self.pools.read().expect("job pools lock poisoned");
        pools.get(&(target, api_version.to_string())).map(f)
    }
}

/// Collects list pages until there is no next page or `max_jobs` jobs are read.
///
/// `fetch` gets the page token (none for the first page) and returns a page or why it failed.
pub async fn collect_pages<F, Fut>(
    max_jobs: u32,
    mut fetch: F,
) -> Result<Vec<DiscoveredJob>, String>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<ListPage, String>>,
{
    let mut jobs = Vec::new();
    let mut token = None;

    loop {
        let page = fetch(token.take()).await?;
        jobs.extend(page.jobs);

        if jobs.len() >= max_jobs as usize {
            jobs.truncate(max_jobs as usize);
            return Ok(jobs);
        }
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return Ok(jobs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, size: Option<u64>, state: &str) -> DiscoveredJob {
        DiscoveredJob {
            name: name.to_string(),
            state: state.to_string(),
            size,
            responses_file: None,
        }
    }

    #[test]
    fn pool_buckets_finished_jobs_and_counts_all() {
        let jobs = [
            job("batches/a", Some(10), "BATCH_STATE_SUCCEEDED"),
            job("batches/b", Some(500), "BATCH_STATE_SUCCEEDED"),
            job("batches/c", Some(500), "BATCH_STATE_RUNNING"),
            job("batches/d", None, "BATCH_STATE_SUCCEEDED"),
        ];

        let pool = JobPool::from_jobs(&jobs, &SizeBuckets::default(), |j| {
            j.state.ends_with("SUCCEEDED")
        });

        assert_eq!(pool.by_bucket["1-10"].len(), 1);
        assert_eq!(pool.by_bucket["101-500"].len(), 1);
        assert_eq!(
            pool.counts[&("101-500".into(), "BATCH_STATE_RUNNING".into())],
            1
        );
        assert_eq!(
            pool.counts[&("unknown".into(), "BATCH_STATE_SUCCEEDED".into())],
            1
        );
    }

    #[test]
    fn slots_rotate_through_the_bucket() {
        let jobs: Vec<_> = (0..5)
            .map(|i| job(&format!("batches/{i}"), Some(100), "S"))
            .collect();
        let pool = JobPool::from_jobs(&jobs, &SizeBuckets::default(), |_| true);

        let picked: Vec<_> = (0..3)
            .flat_map(|round| (0..2).map(move |slot| (slot, round)))
            .map(|(slot, round)| pool.pick("11-100", slot, 2, round).unwrap().name.clone())
            .collect();

        assert_eq!(
            picked,
            [
                "batches/0",
                "batches/1",
                "batches/2",
                "batches/3",
                "batches/4",
                "batches/0"
            ]
        );
    }

    #[tokio::test]
    async fn pages_stop_at_max_jobs_or_last_page() {
        let page = |n: usize, next: Option<&str>| ListPage {
            jobs: (0..n)
                .map(|i| job(&format!("batches/{i}"), Some(1), "S"))
                .collect(),
            next_page_token: next.map(str::to_string),
        };

        let all = collect_pages(100, |token| {
            let next = if token.is_none() { Some("p2") } else { None };
            std::future::ready(Ok(page(3, next)))
        })
        .await
        .unwrap();
        let capped = collect_pages(4, |_| std::future::ready(Ok(page(3, Some("again")))))
            .await
            .unwrap();

        assert_eq!(all.len(), 6);
        assert_eq!(capped.len(), 4);
    }
}
