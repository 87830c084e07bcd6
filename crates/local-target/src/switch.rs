//! Moving traffic between legs, and watching it. A change of routing is a new
//! `upstream.conf`, tested with `nginx -t` before nginx is asked to reload;
//! nginx's reload starts new workers and lets the old ones finish their
//! requests, and both legs keep running, so no request is dropped and the
//! old leg stays ready as the way back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use release_desk_domain::Leg;
use release_desk_provider::{Observation, StepReport, TargetRef};

use crate::error::{refused, timeout, unavailable, Result};
use crate::legs;
use crate::nginx::{self, Routing};
use crate::ports;
use crate::probe;
use crate::target::{Layout, LocalTarget};

/// How long nginx may take to route by a new configuration.
const ROUTE_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests per second `observe` sends through the proxy.
const OBSERVE_RATE: u32 = 20;

impl LocalTarget {
    /// The body of `switch_traffic` and of a `SwitchTo` roll back; the caller
    /// holds the service's lock.
    pub(crate) async fn switch_to(&self, target: &TargetRef, to: Leg) -> Result<StepReport> {
        let layout = self.layout(target);
        let state = legs::read(&self.config.service_binary, &layout.leg(to));
        let Some(record) = state.record().cloned() else {
            return Err(refused(format!(
                "nothing known is deployed on {}: deploy there before switching traffic to it",
                to.as_str()
            )));
        };
        if !state.running() {
            return Err(refused(format!(
                "{} on {} is not running: traffic stays where it is",
                record.version,
                to.as_str()
            )));
        }
        let (healthy, checks, failure) = legs::smoke(to, record.port, &record.version).await?;
        if !healthy {
            return Err(refused(format!(
                "{} on {} is not healthy ({}): traffic stays where it is",
                record.version,
                to.as_str(),
                failure.unwrap_or_default()
            )));
        }
        let mut log: Vec<String> = checks
            .into_iter()
            .map(|c| format!("{}: {c}", to.as_str()))
            .collect();
        // What nginx really routes by, not what the file says: after a kill
        // between writing the file and the reload they differ, and only a
        // reload makes them agree.
        let before = self.served_routing(target, &layout).await?;
        let from = before.as_ref().map(Routing::describe);
        let routing = Routing::single(to, record.port);
        if before.as_ref() == Some(&routing) {
            return Ok(StepReport {
                summary: format!(
                    "traffic for {} already goes to {} ({})",
                    layout.label,
                    to.as_str(),
                    record.version
                ),
                log,
                replayed: false,
            });
        }
        log.extend(self.route(target, &layout, &routing).await?);
        Ok(StepReport {
            summary: match from {
                Some(from) => format!(
                    "switched {} from {from} to {} ({}) on :{}",
                    layout.label,
                    to.as_str(),
                    record.version,
                    self.assigned_ports(target)?.proxy
                ),
                None => format!(
                    "{} now takes traffic for {} ({}) on :{}",
                    to.as_str(),
                    layout.label,
                    record.version,
                    self.assigned_ports(target)?.proxy
                ),
            },
            log,
            replayed: false,
        })
    }

    /// Makes nginx route by `routing`, starting it if it is not running, and
    /// waits until requests through the proxy reach only the legs named.
    pub(crate) async fn route(
        &self,
        target: &TargetRef,
        layout: &Layout,
        routing: &Routing,
    ) -> Result<Vec<String>> {
        let binary = &self.config.nginx_binary;
        let text = nginx::render_upstream(routing);
        let mut log = Vec::new();
        let proxy = self.assigned_ports(target)?.proxy;
        let running = nginx::running(&layout.nginx);
        if running.is_none() {
            nginx::ensure_dirs(&layout.nginx)?;
            let main = nginx::render_main(&layout.nginx, &layout.label, proxy);
            crate::state::write_atomically(&layout.nginx.conf(), main.as_bytes())?;
        }
        if let Err(said) = nginx::install_upstream(binary, &layout.nginx, &text).await? {
            return Err(refused(format!(
                "nginx rejected the configuration for {}, so traffic is unchanged: {said}",
                layout.label
            )));
        }
        log.push(format!(
            "nginx -t accepted routing to {}",
            routing.describe()
        ));
        crate::crash::point(crate::crash::SWITCH_AFTER_WRITE);
        match running {
            Some(pid) => log.extend(
                nginx::reload_and_wait(pid, &layout.nginx.identity(), ROUTE_TIMEOUT).await?,
            ),
            None => {
                if !ports::is_free(proxy) {
                    return Err(refused(format!(
                        "port {proxy} is in use by another program, so nginx for {} cannot listen there; \
                         free it and try again",
                        layout.label
                    )));
                }
                let pid = nginx::start(binary, &layout.nginx).await?;
                log.push(format!("started nginx (pid {pid}) on 127.0.0.1:{proxy}"));
            }
        }
        let waited = self.wait_routed(layout, proxy, routing).await?;
        log.push(format!(
            "the proxy routed only to {} after {} ms",
            routing.describe(),
            waited.as_millis()
        ));
        Ok(log)
    }

    /// The routing nginx really uses, asked through the proxy: the file is
    /// what was last *installed*, which a kill between writing it and the
    /// reload leaves ahead of nginx. Three answers on fresh connections name
    /// the upstreams serving; when they are not the file's, the legs they
    /// came from are the routing. When the proxy cannot be asked (nginx
    /// down), the file is all there is.
    pub(crate) async fn served_routing(
        &self,
        target: &TargetRef,
        layout: &Layout,
    ) -> Result<Option<Routing>> {
        let Some(file) = self.live_routing(layout) else {
            return Ok(None);
        };
        let proxy = self.assigned_ports(target)?.proxy;
        let client = probe::fresh_client()?;
        let url = format!("http://127.0.0.1:{proxy}/healthz");
        let mut ports = std::collections::BTreeSet::new();
        for _ in 0..3 {
            if let Ok(answer) = probe::get(&client, &url).await {
                let port = answer
                    .upstream
                    .as_deref()
                    .and_then(|u| u.rsplit(':').next())
                    .and_then(|p| p.parse::<u16>().ok());
                ports.extend(port);
            }
        }
        if ports.is_empty()
            || ports
                .iter()
                .all(|p| file.serving.iter().any(|(_, q)| q == p))
        {
            return Ok(Some(file));
        }
        let serving: Vec<(Leg, u16)> = [Leg::Blue, Leg::Green]
            .into_iter()
            .filter_map(|leg| {
                let port = legs::read(&self.config.service_binary, &layout.leg(leg))
                    .record()?
                    .port;
                ports.contains(&port).then_some((leg, port))
            })
            .collect();
        tracing::warn!(
            "{}: upstream.conf routes to {} but the proxy answers from {:?}: nginx was not reloaded after the last switch",
            layout.label,
            file.describe(),
            ports
        );
        Ok(serving.first().map(|(leg, _)| Routing {
            live: *leg,
            serving: serving.clone(),
        }))
    }

    async fn wait_routed(
        &self,
        layout: &Layout,
        proxy: u16,
        routing: &Routing,
    ) -> Result<Duration> {
        let client = probe::fresh_client()?;
        let url = format!("http://127.0.0.1:{proxy}/healthz");
        let wanted: Vec<String> = routing
            .serving
            .iter()
            .map(|(_, p)| format!("127.0.0.1:{p}"))
            .collect();
        let start = Instant::now();
        // Old workers may accept a connection or two while they shut down, so
        // a run of answers from the new legs is what proves the reload.
        let mut in_a_row = 0;
        let mut last = String::from("no answer yet");
        while start.elapsed() < ROUTE_TIMEOUT {
            match probe::get(&client, &url).await {
                Ok(answer) => {
                    let upstream = answer.upstream.unwrap_or_default();
                    if wanted.iter().any(|w| upstream.ends_with(w.as_str())) {
                        in_a_row += 1;
                        if in_a_row >= 3 {
                            return Ok(start.elapsed());
                        }
                        continue;
                    }
                    last = format!("answered from {upstream}");
                }
                Err(why) => last = why,
            }
            in_a_row = 0;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(timeout(format!(
            "nginx for {} did not route to {} within {} s (last probe: {last}); see {}",
            layout.label,
            routing.describe(),
            ROUTE_TIMEOUT.as_secs(),
            layout.nginx.error_log().display()
        )))
    }

    /// The body of `observe`: steady requests through the proxy, the real
    /// traffic path, counting errors and timing answers.
    pub(crate) async fn watch(&self, target: &TargetRef, period: Duration) -> Result<Observation> {
        let layout = self.layout(target);
        let Some(routing) = self.live_routing(&layout) else {
            return Err(unavailable(format!(
                "nginx for {} is not running, so there is no traffic to observe",
                layout.label
            )));
        };
        let url = format!("http://127.0.0.1:{}/", self.assigned_ports(target)?.proxy);
        // Kept-alive connections, as a browser or an upstream service uses.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(probe::PROBE_TIMEOUT)
            .build()
            .map_err(|e| crate::error::io(format!("could not build an HTTP client: {e}")))?;
        let mut ticker = tokio::time::interval(Duration::from_secs(1) / OBSERVE_RATE);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut requests = tokio::task::JoinSet::new();
        let start = Instant::now();
        while start.elapsed() < period {
            ticker.tick().await;
            let client = client.clone();
            let url = url.clone();
            requests.spawn(async move { probe::get(&client, &url).await });
        }
        let mut latencies = Vec::new();
        let mut errors = 0u32;
        let mut total = 0u32;
        let mut failures: BTreeMap<String, u32> = BTreeMap::new();
        let mut versions: BTreeMap<String, u32> = BTreeMap::new();
        while let Some(joined) = requests.join_next().await {
            total += 1;
            match joined {
                Ok(Ok(answer)) => {
                    latencies.push(answer.elapsed.as_secs_f64() * 1000.0);
                    if let Some(v) = &answer.version {
                        *versions.entry(v.clone()).or_default() += 1;
                    }
                    if !answer.ok() {
                        errors += 1;
                        *failures
                            .entry(format!("HTTP {}", answer.status))
                            .or_default() += 1;
                    }
                }
                Ok(Err(why)) => {
                    errors += 1;
                    *failures.entry(why).or_default() += 1;
                }
                Err(e) => {
                    errors += 1;
                    *failures
                        .entry(format!("probe task failed: {e}"))
                        .or_default() += 1;
                }
            }
        }
        let mut notes: Vec<String> = versions
            .iter()
            .map(|(v, n)| format!("{n} answers from version {v}"))
            .collect();
        notes.extend(failures.iter().map(|(why, n)| format!("{n} × {why}")));
        for (leg, _) in &routing.serving {
            if !legs::read(&self.config.service_binary, &layout.leg(*leg)).running() {
                notes.push(format!("the {} leg's process exited", leg.as_str()));
            }
        }
        if nginx::running(&layout.nginx).is_none() {
            notes.push("nginx stopped while it was observed".to_owned());
        }
        Ok(Observation {
            requests: total,
            errors,
            p95_ms: percentile(&mut latencies, 0.95),
            notes,
            versions,
        })
    }
}

/// The `q` quantile (nearest rank) of `values`, `None` when empty.
pub(crate) fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile(&mut [], 0.95), None);
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut values, 0.95), Some(95.0));
        assert_eq!(percentile(&mut [3.0], 0.95), Some(3.0));
    }
}
