//! The nginx that routes one service's traffic in one environment: its
//! configuration (a main file written when it starts, and an `upstream.conf`
//! include naming the legs that take traffic), and starting, testing,
//! reloading and stopping it. nginx runs unprivileged from a prefix under the
//! target's root, with no `user` directive and nothing from /etc/nginx, and
//! never writes outside that prefix.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use release_desk_domain::Leg;

use crate::error::{io, io_at, refused, timeout, Result};
use crate::probe::UPSTREAM_HEADER;
use crate::process;

/// How long nginx may take to start or to test its configuration.
const NGINX_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The files of one nginx, under `<env>/nginx/`.
#[derive(Debug, Clone)]
pub(crate) struct NginxPaths {
    pub prefix: PathBuf,
}

impl NginxPaths {
    pub(crate) fn new(env_dir: &Path) -> Self {
        Self {
            prefix: env_dir.join("nginx"),
        }
    }
    pub(crate) fn conf(&self) -> PathBuf {
        self.prefix.join("nginx.conf")
    }
    pub(crate) fn upstream(&self) -> PathBuf {
        self.prefix.join("upstream.conf")
    }
    pub(crate) fn pid(&self) -> PathBuf {
        self.prefix.join("nginx.pid")
    }
    pub(crate) fn error_log(&self) -> PathBuf {
        self.prefix.join("logs/error.log")
    }
    fn startup_log(&self) -> PathBuf {
        self.prefix.join("logs/startup.log")
    }
    /// Who a process must be to be this nginx.
    pub(crate) fn identity(&self) -> process::Identity {
        process::Identity::Nginx {
            prefix: self.prefix.display().to_string(),
        }
    }
    fn args(&self) -> Vec<String> {
        vec![
            "-p".into(),
            self.prefix.display().to_string(),
            "-c".into(),
            self.conf().display().to_string(),
            "-e".into(),
            self.error_log().display().to_string(),
        ]
    }
}

/// Which legs take traffic: `live` is the leg a blue-green switch sent
/// traffic to; during and after a rolling update both legs serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Routing {
    pub live: Leg,
    pub serving: Vec<(Leg, u16)>,
}

impl Routing {
    pub(crate) fn single(leg: Leg, port: u16) -> Self {
        Self {
            live: leg,
            serving: vec![(leg, port)],
        }
    }
    pub(crate) fn serves(&self, leg: Leg) -> bool {
        self.serving.iter().any(|(l, _)| *l == leg)
    }
    pub(crate) fn describe(&self) -> String {
        let legs: Vec<String> = self
            .serving
            .iter()
            .map(|(l, p)| format!("{} (:{p})", l.as_str()))
            .collect();
        legs.join(" and ")
    }
}

/// Paths go into the configuration quoted; these characters would end the
/// quote, start a variable or a new directive, so a root holding them is
/// refused up front rather than producing a configuration that means
/// something else.
pub(crate) fn check_config_path(path: &Path) -> Result<()> {
    let text = path.display().to_string();
    if text
        .chars()
        .any(|c| matches!(c, '"' | '\\' | '$' | ';' | '{' | '}') || c.is_control())
    {
        return Err(refused(format!(
            "{text} cannot be used as the local target's root: it holds a character nginx \
             would read as syntax (\" \\ $ ; {{ }} or a control character)"
        )));
    }
    Ok(())
}

/// The main configuration, written whenever this target starts the nginx.
pub(crate) fn render_main(paths: &NginxPaths, label: &str, port: u16) -> String {
    let p = |rel: &str| format!("\"{}\"", paths.prefix.join(rel).display());
    format!(
        "# Written by Release Desk for {label}; rewritten each time Release Desk starts this nginx.\n\
         # Which legs take traffic is in upstream.conf.\n\
         daemon on;\n\
         worker_processes 1;\n\
         pid {pid};\n\
         error_log {error_log} notice;\n\
         # Old workers get this long to finish requests in flight after a reload.\n\
         worker_shutdown_timeout 30s;\n\
         events {{\n    worker_connections 1024;\n}}\n\
         http {{\n\
         \x20   log_format release_desk '$remote_addr [$time_local] \"$request\" $status $body_bytes_sent '\n\
         \x20                           'upstream=$upstream_addr $upstream_status ${{request_time}}s';\n\
         \x20   access_log {access_log} release_desk buffer=32k flush=1s;\n\
         \x20   client_body_temp_path {t_body};\n\
         \x20   proxy_temp_path {t_proxy};\n\
         \x20   fastcgi_temp_path {t_fastcgi};\n\
         \x20   uwsgi_temp_path {t_uwsgi};\n\
         \x20   scgi_temp_path {t_scgi};\n\
         \x20   server_tokens off;\n\
         \x20   # No kept-alive client connections: a reload makes the old workers\n\
         \x20   # close idle ones at once, and a client that has just picked one for\n\
         \x20   # its next request gets a reset, a race no other setting removes.\n\
         \x20   # Closing after each answer leaves nothing idle to close, so a switch\n\
         \x20   # drops nothing; a loopback handshake per request is the price.\n\
         \x20   keepalive_timeout 0;\n\
         \x20   include {upstream};\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{port};\n\
         \x20       location / {{\n\
         \x20           proxy_pass http://release_desk_live;\n\
         \x20           # HTTP/1.1 with no Connection header keeps leg connections alive.\n\
         \x20           proxy_http_version 1.1;\n\
         \x20           proxy_set_header Connection \"\";\n\
         \x20           proxy_set_header Host $host;\n\
         \x20           # Lets the sample service tell live traffic from direct checks.\n\
         \x20           proxy_set_header X-Release-Desk-Via proxy;\n\
         \x20           proxy_connect_timeout 2s;\n\
         \x20           proxy_read_timeout 30s;\n\
         \x20           # A leg connection closed under a request is retried on the next leg.\n\
         \x20           proxy_next_upstream error timeout;\n\
         \x20           proxy_max_temp_file_size 0;\n\
         \x20           add_header {upstream_header} $upstream_addr always;\n\
         \x20       }}\n\
         \x20   }}\n\
         }}\n",
        pid = p("nginx.pid"),
        error_log = p("logs/error.log"),
        access_log = p("logs/access.log"),
        t_body = p("temp/client_body"),
        t_proxy = p("temp/proxy"),
        t_fastcgi = p("temp/fastcgi"),
        t_uwsgi = p("temp/uwsgi"),
        t_scgi = p("temp/scgi"),
        upstream = p("upstream.conf"),
        upstream_header = UPSTREAM_HEADER,
    )
}

const ROUTING_MARK: &str = "# release-desk-routing:";

/// The include naming the legs that take traffic. Its first line records the
/// routing in a form [`parse_upstream`] reads back.
pub(crate) fn render_upstream(routing: &Routing) -> String {
    let serving: Vec<String> = routing
        .serving
        .iter()
        .map(|(leg, port)| format!("{}:{port}", leg.as_str()))
        .collect();
    let mut text = format!(
        "{ROUTING_MARK} live={} serving={}\n# Written by Release Desk; replaced on every switch.\nupstream release_desk_live {{\n",
        routing.live.as_str(),
        serving.join(",")
    );
    for (_, port) in &routing.serving {
        // max_fails=0: a leg that errors once is still the only place traffic
        // may go; taking it out of rotation is this target's decision, made
        // by rewriting this file, not nginx's.
        text.push_str(&format!("    server 127.0.0.1:{port} max_fails=0;\n"));
    }
    text.push_str("    keepalive 32;\n}\n");
    text
}

/// Reads the routing back from an `upstream.conf`; `None` if it is not one
/// this target wrote.
pub(crate) fn parse_upstream(text: &str) -> Option<Routing> {
    let line = text.lines().next()?.strip_prefix(ROUTING_MARK)?;
    let mut live = None;
    let mut serving = Vec::new();
    for field in line.split_whitespace() {
        if let Some(value) = field.strip_prefix("live=") {
            live = Leg::parse(value);
        } else if let Some(value) = field.strip_prefix("serving=") {
            for item in value.split(',') {
                let (leg, port) = item.split_once(':')?;
                serving.push((Leg::parse(leg)?, port.parse().ok()?));
            }
        }
    }
    let live = live?;
    (!serving.is_empty()).then_some(Routing { live, serving })
}

pub(crate) fn read_routing(paths: &NginxPaths) -> Option<Routing> {
    std::fs::read_to_string(paths.upstream())
        .ok()
        .and_then(|text| parse_upstream(&text))
}

/// The running master's pid, if this nginx is up.
pub(crate) fn running(paths: &NginxPaths) -> Option<i32> {
    process::running_from(&paths.pid(), &paths.identity())
}

pub(crate) fn ensure_dirs(paths: &NginxPaths) -> Result<()> {
    for dir in ["logs", "temp"] {
        let dir = paths.prefix.join(dir);
        std::fs::create_dir_all(&dir).map_err(|e| io_at("create", &dir, e))?;
    }
    Ok(())
}

/// Runs `nginx -t` on the configuration as it is on disk; `Err` holds what
/// nginx said.
pub(crate) async fn test(
    binary: &Path,
    paths: &NginxPaths,
) -> Result<std::result::Result<(), String>> {
    let mut command = tokio::process::Command::new(binary);
    command
        .arg("-t")
        .arg("-q")
        .args(paths.args())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    crate::process::minimal_environment(&mut command);
    let output = tokio::time::timeout(NGINX_COMMAND_TIMEOUT, command.output())
        .await
        .map_err(|_| {
            timeout(format!(
                "nginx -t did not finish within {NGINX_COMMAND_TIMEOUT:?}"
            ))
        })?
        .map_err(|e| io_at("run", binary, e))?;
    if output.status.success() {
        Ok(Ok(()))
    } else {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Ok(Err(if said.is_empty() {
            format!("nginx -t failed with {}", output.status)
        } else {
            said
        }))
    }
}

/// Starts nginx as a daemon (it detaches into its own session) and returns
/// the master's pid once its pid file names a live nginx.
pub(crate) async fn start(binary: &Path, paths: &NginxPaths) -> Result<i32> {
    ensure_dirs(paths)?;
    let log = paths.startup_log();
    let out = std::fs::File::create(&log).map_err(|e| io_at("create", &log, e))?;
    let err = out.try_clone().map_err(|e| io_at("create", &log, e))?;
    // Output goes to a file, not a pipe: the daemon could inherit a pipe and
    // keep it open, and waiting for its end would then never finish.
    let mut command = tokio::process::Command::new(binary);
    command
        .args(paths.args())
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    crate::process::minimal_environment(&mut command);
    let status = tokio::time::timeout(NGINX_COMMAND_TIMEOUT, command.status())
        .await
        .map_err(|_| {
            timeout(format!(
                "nginx did not start within {NGINX_COMMAND_TIMEOUT:?}"
            ))
        })?
        .map_err(|e| io_at("run", binary, e))?;
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    if !status.success() {
        return Err(if said.contains("Address already in use") {
            refused(format!(
                "nginx could not listen: its port is in use by another program ({})",
                said.trim()
            ))
        } else {
            io(format!("nginx did not start ({status}): {}", said.trim()))
        });
    }
    let deadline = tokio::time::Instant::now() + NGINX_COMMAND_TIMEOUT;
    loop {
        if let Some(pid) = running(paths) {
            return Ok(pid);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(timeout(format!(
                "nginx reported a start but no master process appeared: {}",
                process::log_tail(&paths.error_log(), 5)
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asks the master to re-read its configuration: it starts new workers and
/// lets the old ones finish what they are serving.
pub(crate) fn reload(pid: i32, who: &process::Identity) -> Result<()> {
    match process::Pinned::ours(pid, who) {
        Some(master) => master.signal(libc::SIGHUP),
        None => Err(crate::error::unavailable(format!(
            "nginx (pid {pid}) is no longer running, so it cannot be reloaded; the next step starts it again"
        ))),
    }
}

/// The master's workers that are serving (not the ones shutting down after
/// a reload, which nginx retitles "worker process is shutting down").
pub(crate) fn active_workers(master: i32) -> Vec<i32> {
    process::children(master)
        .into_iter()
        .filter(|(_, line)| line.contains("worker process") && !line.contains("shutting down"))
        .map(|(pid, _)| pid)
        .collect()
}

/// Reloads and waits until every serving worker was started by this reload.
/// After starting new workers the master lets the old ones accept for about
/// a tenth of a second before telling them to stop, so a check that only
/// sees new answers can pass while old workers still take connections (the
/// tests caught traffic reaching the previous leg that way). In testing a
/// worker of an intermediate configuration was once only stopped by the next
/// reload, so one still serving after a second prompts another reload.
/// Returns lines for the step's log.
pub(crate) async fn reload_and_wait(
    pid: i32,
    who: &process::Identity,
    within: Duration,
) -> Result<Vec<String>> {
    let mut log = Vec::new();
    let mut old = active_workers(pid);
    reload(pid, who)?;
    log.push(format!("reloaded nginx (pid {pid}) gracefully"));
    let start = tokio::time::Instant::now();
    let mut last_reload = start;
    loop {
        let active = active_workers(pid);
        if !active.is_empty() && active.iter().all(|w| !old.contains(w)) {
            return Ok(log);
        }
        if start.elapsed() >= within {
            return Err(timeout(format!(
                "nginx (pid {pid}) still has workers of an earlier configuration ({old:?}) after {} s",
                within.as_secs()
            )));
        }
        if last_reload.elapsed() >= Duration::from_secs(1) {
            old = active;
            reload(pid, who)?;
            last_reload = tokio::time::Instant::now();
            log.push(
                "a worker of the previous configuration was still serving; reloaded again"
                    .to_owned(),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stops this nginx, gracefully first (SIGQUIT lets requests finish).
pub(crate) fn stop(paths: &NginxPaths) -> Result<()> {
    let Some(pid) = running(paths) else {
        return Ok(());
    };
    process::stop(
        pid,
        &paths.identity(),
        libc::SIGQUIT,
        Duration::from_secs(3),
    )?;
    let _ = std::fs::remove_file(paths.pid());
    Ok(())
}

/// Puts `text` into upstream.conf, tests the whole configuration, and on a
/// refusal puts the previous include back. Returns nginx's complaint if any.
pub(crate) async fn install_upstream(
    binary: &Path,
    paths: &NginxPaths,
    text: &str,
) -> Result<std::result::Result<(), String>> {
    let path = paths.upstream();
    let previous = std::fs::read(&path).ok();
    crate::state::write_atomically(&path, text.as_bytes())?;
    match test(binary, paths).await? {
        Ok(()) => Ok(Ok(())),
        Err(said) => {
            match &previous {
                Some(bytes) => crate::state::write_atomically(&path, bytes)?,
                None => std::fs::remove_file(&path).map_err(|e| io_at("remove", &path, e))?,
            }
            Ok(Err(said))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_round_trips_through_the_include() {
        let single = Routing::single(Leg::Green, 18082);
        assert_eq!(parse_upstream(&render_upstream(&single)), Some(single));
        let both = Routing {
            live: Leg::Blue,
            serving: vec![(Leg::Blue, 18081), (Leg::Green, 18082)],
        };
        let text = render_upstream(&both);
        assert!(text.contains("server 127.0.0.1:18081 max_fails=0;"));
        assert!(text.contains("server 127.0.0.1:18082 max_fails=0;"));
        assert_eq!(parse_upstream(&text), Some(both));
    }

    #[test]
    fn an_include_not_written_here_has_no_routing() {
        for text in [
            "",
            "upstream x { server 1.2.3.4; }",
            "# release-desk-routing: live=red serving=red:1",
        ] {
            assert_eq!(parse_upstream(text), None, "{text}");
        }
    }

    #[test]
    fn the_main_configuration_stays_inside_its_prefix() {
        let paths = NginxPaths::new(Path::new("/data/rd/demo-web/prod"));
        let conf = render_main(&paths, "demo-web in prod", 18080);
        assert!(conf.contains("listen 127.0.0.1:18080;"));
        assert!(
            conf.contains("keepalive_timeout 0;"),
            "a reload would reset idle client connections"
        );
        assert!(conf.contains("include \"/data/rd/demo-web/prod/nginx/upstream.conf\";"));
        assert!(!conf.contains("/etc/nginx") && !conf.contains("/var/"));
        assert!(!conf.lines().any(|l| l.trim_start().starts_with("user ")));
        for directive in ["pid ", "error_log ", "access_log ", "proxy_temp_path "] {
            let line = conf
                .lines()
                .find(|l| l.trim_start().starts_with(directive))
                .unwrap();
            assert!(line.contains("\"/data/rd/demo-web/prod/nginx/"), "{line}");
        }
    }

    #[test]
    fn roots_that_would_be_read_as_nginx_syntax_are_refused() {
        assert!(check_config_path(Path::new("/home/a/Application Support/rd")).is_ok());
        for bad in ["/x/$home", "/x/a;b", "/x/\"q", "/x/{y}", "/x/a\nb"] {
            assert!(check_config_path(Path::new(bad)).is_err(), "{bad:?}");
        }
    }
}
