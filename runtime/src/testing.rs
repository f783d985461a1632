//! Running a real Restate server for tests: `restate-server` from npm (pinned), started on free
//! loopback ports with its own data directory, stopped by its PID when dropped.
//! [`RestateServer::restart`] kills it (SIGKILL) and starts it again on the same data directory
//! and ports; [`RestateCluster`] runs several nodes as one cluster (replicated log and
//! metadata) on loopback.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use restate_rs::testing::RestateServer;
//! let server = RestateServer::start().await?;
//! // server.register("http://127.0.0.1:9080").await?;
//! // let ingress = server.ingress();
//! # Ok(()) }
//! ```
//!
//! The binary is looked up, in order, at `$RESTATE_SERVER_BIN`, under the npm prefix given to
//! [`RestateServerBuilder::npm_prefix`] or `$RESTATE_RS_TOOLS`, and under
//! `~/.cache/restate-rs/restate-server-<version>`; when it is in none of them it is installed
//! there with `npm install @restatedev/restate-server@<version>`.

use crate::admin::{AdminClient, AdminError, Deployment};
use crate::ingress::IngressClient;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The restate-server version the tests are pinned to.
pub const RESTATE_SERVER_VERSION: &str = "1.7.12";

/// Why a test server could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestServerError {
    /// Installing restate-server from npm failed.
    #[error(
        "cannot install restate-server {RESTATE_SERVER_VERSION} with npm into {dir}: {message}"
    )]
    Install {
        /// Where it was to go.
        dir: PathBuf,
        /// What npm said.
        message: String,
    },
    /// This platform has no restate-server package.
    #[error("restate-server has no npm package for {0}")]
    UnsupportedPlatform(String),
    /// The process could not be started.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server did not become ready.
    #[error(
        "restate-server did not become ready within {timeout:?}: {reason}\n--- server log ---\n{log}"
    )]
    NotReady {
        /// How long we waited.
        timeout: Duration,
        /// What was observed.
        reason: String,
        /// The end of its log.
        log: String,
    },
    /// File system trouble with the data directory.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Talking to the admin API failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
}

/// Options for [`RestateServer`].
#[derive(Debug, Clone, Default)]
pub struct RestateServerBuilder {
    binary: Option<PathBuf>,
    npm_prefix: Option<PathBuf>,
    identity_private_key_pem: Option<PathBuf>,
    extra_config: String,
    startup_timeout: Option<Duration>,
}

impl RestateServerBuilder {
    /// Use this restate-server binary.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Find (or install) restate-server under this npm prefix (its `node_modules`).
    pub fn npm_prefix(mut self, dir: impl Into<PathBuf>) -> Self {
        self.npm_prefix = Some(dir.into());
        self
    }

    /// Sign requests to deployments with this Ed25519 private key (PEM), so endpoints that
    /// verify request identity accept them.
    pub fn request_identity_key(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.identity_private_key_pem = Some(pem_file.into());
        self
    }

    /// Extra TOML appended to the generated configuration file.
    pub fn extra_config(mut self, toml: impl Into<String>) -> Self {
        self.extra_config = toml.into();
        self
    }

    /// How long to wait for the server to become ready (default 90 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = Some(timeout);
        self
    }

    /// Starts the server and waits until its admin API and ingress answer.
    pub async fn start(self) -> Result<RestateServer, TestServerError> {
        let binary = resolve_binary(self.binary.clone(), self.npm_prefix.clone()).await?;
        let dir = fresh_dir("server")?;
        let [node_port, admin_port, ingress_port] = free_ports::<3>()?;
        let identity = self
            .identity_private_key_pem
            .as_ref()
            .map(|p| {
                format!(
                    "\n[worker.invoker]\nrequest-identity-private-key-pem-file = {:?}\n",
                    p.display().to_string()
                )
            })
            .unwrap_or_default();
        let config = format!(
            r#"cluster-name = "restate-rs-test-{node_port}"
node-name = "n1"
base-dir = {base:?}
bind-address = "127.0.0.1:{node_port}"
advertised-address = "http://127.0.0.1:{node_port}"
default-num-partitions = 2
disable-telemetry = true
rocksdb-total-memory-size = "256 MiB"
log-filter = "warn,restate=info"
log-disable-ansi-codes = true
{identity}
[admin]
bind-address = "127.0.0.1:{admin_port}"
advertised-admin-endpoint = "http://127.0.0.1:{admin_port}"
disable-web-ui = true

[admin.query-engine]
memory-size = "64 MiB"

[ingress]
bind-address = "127.0.0.1:{ingress_port}"
advertised-ingress-endpoint = "http://127.0.0.1:{ingress_port}"

{extra}
"#,
            base = dir.join("data").display().to_string(),
            extra = self.extra_config,
        );
        let mut server = RestateServer::launch(
            binary,
            dir,
            &config,
            [node_port, admin_port, ingress_port],
            self.startup_timeout.unwrap_or(Duration::from_secs(90)),
        )?;
        server.wait_ready(server.startup_timeout).await?;
        Ok(server)
    }
}

/// A restate-server process of our own. Dropping it kills the process (by its PID) and
/// removes its data directory.
pub struct RestateServer {
    child: Child,
    dir: PathBuf,
    log_path: PathBuf,
    admin_url: String,
    ingress_url: String,
    admin: AdminClient,
    binary: PathBuf,
    config_path: PathBuf,
    node_port: u16,
    startup_timeout: Duration,
}

impl std::fmt::Debug for RestateServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestateServer")
            .field("pid", &self.child.id())
            .field("admin_url", &self.admin_url)
            .field("ingress_url", &self.ingress_url)
            .finish()
    }
}

impl RestateServer {
    /// Writes `config` into `dir` and starts the process, without waiting for it.
    fn launch(
        binary: PathBuf,
        dir: PathBuf,
        config: &str,
        [node_port, admin_port, ingress_port]: [u16; 3],
        startup_timeout: Duration,
    ) -> Result<Self, TestServerError> {
        let config_path = dir.join("restate.toml");
        std::fs::write(&config_path, config).map_err(|source| TestServerError::Io {
            context: format!("writing {}", config_path.display()),
            source,
        })?;
        let log_path = dir.join("server.log");
        let child = spawn_server(&binary, &config_path, &log_path)?;
        Ok(RestateServer {
            child,
            dir,
            log_path,
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            ingress_url: format!("http://127.0.0.1:{ingress_port}"),
            admin: AdminClient::new(format!("http://127.0.0.1:{admin_port}"))?,
            binary,
            config_path,
            node_port,
            startup_timeout,
        })
    }

    /// Starts a server with the defaults.
    pub async fn start() -> Result<Self, TestServerError> {
        Self::builder().start().await
    }

    /// Options for starting a server.
    pub fn builder() -> RestateServerBuilder {
        RestateServerBuilder::default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The admin API, e.g. `http://127.0.0.1:40123`.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The ingress, e.g. `http://127.0.0.1:40124`.
    pub fn ingress_url(&self) -> &str {
        &self.ingress_url
    }

    /// An admin client.
    pub fn admin(&self) -> &AdminClient {
        &self.admin
    }

    /// An ingress client.
    pub fn ingress(&self) -> IngressClient {
        IngressClient::new(&self.ingress_url).expect("the ingress URL is valid")
    }

    /// Registers the deployment at `uri`.
    pub async fn register(&self, uri: &str) -> Result<Deployment, TestServerError> {
        Ok(self.admin.register(uri).await?)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Kills the server (SIGKILL) and waits for it to exit; its data stays until drop.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running (it may have been killed, or have exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The directory holding the configuration, the log and the data (`data/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node-to-node address, e.g. `http://127.0.0.1:40122`.
    pub fn node_address(&self) -> String {
        format!("http://127.0.0.1:{}", self.node_port)
    }

    /// Kills the server (SIGKILL) if it runs, starts it again with the same configuration,
    /// data directory and ports, and waits until its admin API and ingress answer. What it
    /// had accepted before the kill is recovered from its data directory; the log goes on in
    /// the same file.
    ///
    /// A port of the server may have been taken in the meantime as the local port of some
    /// outgoing connection; the start is then tried again for a while.
    pub async fn restart(&mut self) -> Result<(), TestServerError> {
        self.kill();
        let started = Instant::now();
        loop {
            let log_before = std::fs::metadata(&self.log_path).map_or(0, |m| m.len() as usize);
            self.child = spawn_server(&self.binary, &self.config_path, &self.log_path)?;
            match self.wait_ready(self.startup_timeout).await {
                Err(TestServerError::NotReady { .. })
                    if !self.is_running()
                        && self.log().get(log_before..).is_some_and(|new| {
                            new.contains("Address in use") || new.contains("Address already in use")
                        })
                        && started.elapsed() < Duration::from_secs(30) =>
                {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                other => return other,
            }
        }
    }

    /// Starts the server again after [`kill`](Self::kill) (or does nothing if it runs),
    /// without waiting for it to become ready: a cluster node may need its peers for that.
    pub fn start_again(&mut self) -> Result<(), TestServerError> {
        if !self.is_running() {
            self.child = spawn_server(&self.binary, &self.config_path, &self.log_path)?;
        }
        Ok(())
    }

    /// Waits until the admin API and the ingress answer their health checks.
    pub async fn wait_healthy(&mut self) -> Result<(), TestServerError> {
        self.wait_ready(self.startup_timeout).await
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), TestServerError> {
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(TestServerError::NotReady {
                    timeout,
                    reason: format!("the process exited ({status})"),
                    log: tail(&self.log(), 40),
                });
            }
            let admin = self.admin.healthy().await;
            let ingress = matches!(
                http.get(format!("{}/restate/health", self.ingress_url)).send().await,
                Ok(r) if r.status().is_success()
            );
            if admin && ingress {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(TestServerError::NotReady {
                    timeout,
                    reason: format!("admin healthy: {admin}, ingress healthy: {ingress}"),
                    log: tail(&self.log(), 40),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for RestateServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Finds the binary: the builder's, `$RESTATE_SERVER_BIN`, or under the npm prefix (installed
/// there when missing).
async fn resolve_binary(
    binary: Option<PathBuf>,
    npm_prefix: Option<PathBuf>,
) -> Result<PathBuf, TestServerError> {
    if let Some(binary) =
        binary.or_else(|| std::env::var_os("RESTATE_SERVER_BIN").map(PathBuf::from))
    {
        return Ok(binary);
    }
    let prefix = npm_prefix
        .or_else(|| std::env::var_os("RESTATE_RS_TOOLS").map(PathBuf::from))
        .unwrap_or_else(default_prefix);
    tokio::task::spawn_blocking(move || ensure_installed(&prefix))
        .await
        .map_err(|e| TestServerError::Io {
            context: "installing restate-server".to_owned(),
            source: std::io::Error::other(e),
        })?
}

/// A new empty directory under the system's temporary directory.
fn fresh_dir(kind: &str) -> Result<PathBuf, TestServerError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "restate-rs-{kind}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| TestServerError::Io {
        context: format!("creating {}", dir.display()),
        source,
    })?;
    Ok(dir)
}

/// Starts restate-server on `config_path`, its output appended to `log_path`.
fn spawn_server(
    binary: &Path,
    config_path: &Path,
    log_path: &Path,
) -> Result<Child, TestServerError> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|source| TestServerError::Io {
            context: format!("opening {}", log_path.display()),
            source,
        })?;
    Command::new(binary)
        .arg("--config-file")
        .arg(config_path)
        .arg("--no-logo")
        .arg("--listen-mode")
        .arg("tcp")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|source| TestServerError::Io {
            context: "opening the server log".to_owned(),
            source,
        })?)
        .stderr(log)
        .spawn()
        .map_err(|source| TestServerError::Spawn {
            binary: binary.to_path_buf(),
            source,
        })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn free_ports<const N: usize>() -> Result<[u16; N], TestServerError> {
    let mut ports = [0u16; N];
    ports.copy_from_slice(&free_port_list(N)?);
    Ok(ports)
}

fn free_port_list(n: usize) -> Result<Vec<u16>, TestServerError> {
    // Hold all listeners at once so the ports differ, then release them for the server.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|source| TestServerError::Io {
            context: "finding free loopback ports".to_owned(),
            source,
        })?;
    Ok(listeners
        .iter()
        .map(|listener| listener.local_addr().map(|a| a.port()).unwrap_or_default())
        .collect())
}

fn default_prefix() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache
        .join("restate-rs")
        .join(format!("restate-server-{RESTATE_SERVER_VERSION}"))
}

fn platform_package() -> Result<&'static str, TestServerError> {
    Ok(match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "restate-server-linux-x64",
        ("linux", "aarch64") => "restate-server-linux-arm64",
        ("macos", "x86_64") => "restate-server-darwin-x64",
        ("macos", "aarch64") => "restate-server-darwin-arm64",
        (os, arch) => return Err(TestServerError::UnsupportedPlatform(format!("{os}/{arch}"))),
    })
}

fn binary_under(prefix: &Path) -> Result<PathBuf, TestServerError> {
    Ok(prefix
        .join("node_modules/@restatedev")
        .join(platform_package()?)
        .join("bin/restate-server"))
}

fn installed_version(binary: &Path) -> Option<String> {
    let output = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace().last().map(str::to_owned)
}

fn ensure_installed(prefix: &Path) -> Result<PathBuf, TestServerError> {
    let binary = binary_under(prefix)?;
    if binary.exists() && installed_version(&binary).as_deref() == Some(RESTATE_SERVER_VERSION) {
        return Ok(binary);
    }
    std::fs::create_dir_all(prefix).map_err(|source| TestServerError::Io {
        context: format!("creating {}", prefix.display()),
        source,
    })?;
    let output = Command::new("npm")
        .args([
            "install",
            "--no-package-lock",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(prefix)
        .arg(format!(
            "@restatedev/restate-server@{RESTATE_SERVER_VERSION}"
        ))
        .output()
        .map_err(|e| TestServerError::Install {
            dir: prefix.to_path_buf(),
            message: format!("cannot run npm: {e}"),
        })?;
    if !output.status.success() || !binary.exists() {
        return Err(TestServerError::Install {
            dir: prefix.to_path_buf(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(binary)
}

/// Options for [`RestateCluster`].
#[derive(Debug, Clone)]
pub struct RestateClusterBuilder {
    binary: Option<PathBuf>,
    npm_prefix: Option<PathBuf>,
    nodes: usize,
    replication: usize,
    partitions: u16,
    extra_config: String,
    startup_timeout: Option<Duration>,
}

impl Default for RestateClusterBuilder {
    fn default() -> Self {
        Self {
            binary: None,
            npm_prefix: None,
            nodes: 3,
            replication: 2,
            partitions: 4,
            extra_config: String::new(),
            startup_timeout: None,
        }
    }
}

impl RestateClusterBuilder {
    /// Use this restate-server binary.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Find (or install) restate-server under this npm prefix (its `node_modules`).
    pub fn npm_prefix(mut self, dir: impl Into<PathBuf>) -> Self {
        self.npm_prefix = Some(dir.into());
        self
    }

    /// How many nodes (default 3).
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes.max(1);
        self
    }

    /// On how many nodes the log and the partitions are replicated (`default-replication`,
    /// default 2: three nodes then survive the loss of one).
    pub fn replication(mut self, replication: usize) -> Self {
        self.replication = replication.max(1);
        self
    }

    /// How many partitions the cluster is provisioned with (default 4).
    pub fn partitions(mut self, partitions: u16) -> Self {
        self.partitions = partitions.max(1);
        self
    }

    /// Extra TOML appended to every node's configuration file.
    pub fn extra_config(mut self, toml: impl Into<String>) -> Self {
        self.extra_config = toml.into();
        self
    }

    /// How long to wait for each node to become ready (default 120 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = Some(timeout);
        self
    }

    /// Starts every node (the first one provisions the cluster) and waits until each answers
    /// on its admin API and ingress.
    pub async fn start(self) -> Result<RestateCluster, TestServerError> {
        let binary = resolve_binary(self.binary.clone(), self.npm_prefix.clone()).await?;
        let dir = fresh_dir("cluster")?;
        let ports = free_port_list(3 * self.nodes)?;
        let node_ports: Vec<u16> = ports.chunks(3).map(|p| p[0]).collect();
        let cluster_name = format!("restate-rs-cluster-{}", node_ports[0]);
        let metadata_addresses = node_ports
            .iter()
            .map(|p| format!("\"http://127.0.0.1:{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let timeout = self.startup_timeout.unwrap_or(Duration::from_secs(120));
        let mut nodes = Vec::with_capacity(self.nodes);
        for (i, chunk) in ports.chunks(3).enumerate() {
            let [node_port, admin_port, ingress_port] = [chunk[0], chunk[1], chunk[2]];
            let node_dir = dir.join(format!("n{}", i + 1));
            std::fs::create_dir_all(&node_dir).map_err(|source| TestServerError::Io {
                context: format!("creating {}", node_dir.display()),
                source,
            })?;
            let config = format!(
                r#"cluster-name = "{cluster_name}"
node-name = "n{n}"
base-dir = {base:?}
bind-address = "127.0.0.1:{node_port}"
advertised-address = "http://127.0.0.1:{node_port}"
auto-provision = {provision}
default-replication = {replication}
default-num-partitions = {partitions}
disable-telemetry = true
rocksdb-total-memory-size = "256 MiB"
log-filter = "warn,restate=info"
log-disable-ansi-codes = true

[metadata-client]
addresses = [{metadata_addresses}]

[bifrost]
default-provider = "replicated"

[admin]
bind-address = "127.0.0.1:{admin_port}"
advertised-admin-endpoint = "http://127.0.0.1:{admin_port}"
disable-web-ui = true

[admin.query-engine]
memory-size = "64 MiB"

[ingress]
bind-address = "127.0.0.1:{ingress_port}"
advertised-ingress-endpoint = "http://127.0.0.1:{ingress_port}"

{extra}
"#,
                n = i + 1,
                base = node_dir.join("data").display().to_string(),
                provision = i == 0,
                replication = self.replication,
                partitions = self.partitions,
                extra = self.extra_config,
            );
            match RestateServer::launch(
                binary.clone(),
                node_dir,
                &config,
                [node_port, admin_port, ingress_port],
                timeout,
            ) {
                Ok(node) => nodes.push(node),
                Err(e) => {
                    // The nodes started so far are killed when dropped.
                    drop(nodes);
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(e);
                }
            }
        }
        let mut cluster = RestateCluster {
            nodes,
            dir,
            cluster_name,
        };
        for node in &mut cluster.nodes {
            node.wait_healthy().await?;
        }
        Ok(cluster)
    }
}

/// Several restate-server processes forming one cluster on loopback: one cluster name, each
/// node with its own name, ports and data directory, all of them running every role
/// (metadata server, log server, worker, admin, ingress), the log and the partitions
/// replicated on `replication` nodes; the first node provisions the cluster. Dropping it
/// kills every node and removes their data.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use restate_rs::testing::RestateCluster;
/// let mut cluster = RestateCluster::builder().nodes(3).replication(2).start().await?;
/// // cluster.register("http://127.0.0.1:9080").await?;
/// cluster.kill(1); // SIGKILL the second node; the other two go on
/// let ingress = cluster.node(0).ingress();
/// # Ok(()) }
/// ```
pub struct RestateCluster {
    nodes: Vec<RestateServer>,
    dir: PathBuf,
    cluster_name: String,
}

impl std::fmt::Debug for RestateCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestateCluster")
            .field("cluster_name", &self.cluster_name)
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl RestateCluster {
    /// Options for starting a cluster (3 nodes, replication 2 unless told otherwise).
    pub fn builder() -> RestateClusterBuilder {
        RestateClusterBuilder::default()
    }

    /// The cluster name all nodes share.
    pub fn cluster_name(&self) -> &str {
        &self.cluster_name
    }

    /// The nodes, in the order they were configured (`n1`, `n2`, ...).
    pub fn nodes(&self) -> &[RestateServer] {
        &self.nodes
    }

    /// Node `i` (0-based; its node name is `n{i+1}`).
    pub fn node(&self, i: usize) -> &RestateServer {
        &self.nodes[i]
    }

    /// Node `i`, to kill or restart it.
    pub fn node_mut(&mut self, i: usize) -> &mut RestateServer {
        &mut self.nodes[i]
    }

    /// Kills node `i` with SIGKILL; its data stays.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Starts node `i` again on its data directory and ports and waits until it answers.
    pub async fn restart(&mut self, i: usize) -> Result<(), TestServerError> {
        self.nodes[i].restart().await
    }

    /// The indexes of the nodes whose process runs.
    pub fn running(&mut self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_running())
            .collect()
    }

    /// Registers the deployment at `uri` through the admin API of the first running node.
    pub async fn register(&mut self, uri: &str) -> Result<Deployment, TestServerError> {
        let first = *self
            .running()
            .first()
            .ok_or_else(|| TestServerError::NotReady {
                timeout: Duration::ZERO,
                reason: "no node of the cluster runs".to_owned(),
                log: String::new(),
            })?;
        self.nodes[first].register(uri).await
    }

    /// The logs of all nodes, each under a header naming the node.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| format!("--- n{} ---\n{}", i + 1, node.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for RestateCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
