//! A broker or a database of the test's own, for scenarios that stop, restart or kill them:
//! the machine's shared services, which parallel tests use, are never touched.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::unique_id;

fn workspace_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn run(command: &mut Command, what: &str) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn ports_free(ports: impl IntoIterator<Item = u16>) -> bool {
    ports
        .into_iter()
        .all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok())
}

/// `count` RabbitMQ nodes (clustered when more than one), started by
/// `tests/cluster/rabbitmq-nodes.sh`, stopped and removed on drop.
pub struct PrivateBroker {
    dir: PathBuf,
    prefix: String,
    count: usize,
    base_port: u16,
}

impl PrivateBroker {
    /// Starts the nodes; this blocks for several seconds per node.
    pub fn start(count: usize) -> Self {
        let id = unique_id();
        let base_port = (0..200)
            .map(|_| 6000 + (rand_u16() % 3000))
            .find(|base| {
                let ports: Vec<u16> = (0..count as u16).map(|i| base + i).collect();
                ports_free(ports.iter().copied()) && ports_free(ports.iter().map(|p| p + 20000))
            })
            .expect("free ports for the private broker");
        let broker = Self {
            dir: std::env::temp_dir().join(format!("herald-rabbitmq-{id}")),
            prefix: format!("herald-{id}"),
            count,
            base_port,
        };
        run(
            Command::new("bash").arg(broker.script()).args([
                "start",
                &broker.dir.to_string_lossy(),
                &broker.prefix,
                &count.to_string(),
                &base_port.to_string(),
            ]),
            "starting private RabbitMQ nodes",
        );
        broker
    }

    fn script(&self) -> PathBuf {
        workspace_file("tests/cluster/rabbitmq-nodes.sh")
    }

    /// The name of node `index` (1-based).
    pub fn node(&self, index: usize) -> String {
        format!("{}-{index}@localhost", self.prefix)
    }

    /// The AMQP URL of every node, in order.
    pub fn amqp_urls(&self) -> Vec<String> {
        (0..self.count)
            .map(|i| {
                format!(
                    "amqp://guest:guest@127.0.0.1:{}/%2f",
                    self.base_port + i as u16
                )
            })
            .collect()
    }

    /// `rabbitmqctl` on node `index`; returns its standard output.
    pub fn ctl(&self, index: usize, args: &[&str]) -> String {
        let output = run(
            Command::new("bash")
                .arg(self.script())
                .arg("ctl")
                .arg(self.node(index))
                .args(args),
            &format!("rabbitmqctl {args:?}"),
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `kill -9` of node `index`.
    pub fn kill(&self, index: usize) {
        run(
            Command::new("bash").arg(self.script()).args([
                "kill",
                &self.dir.to_string_lossy(),
                &index.to_string(),
            ]),
            "killing a node",
        );
    }

    /// The index of the node leading quorum queue `queue`, asked of node `via`.
    pub fn leader_of(&self, queue: &str, via: usize) -> usize {
        let listing = self.ctl(via, &["list_queues", "name", "leader"]);
        let leader = listing
            .lines()
            .find_map(|line| {
                let mut columns = line.split_whitespace();
                (columns.next() == Some(queue))
                    .then(|| columns.next().map(str::to_owned))
                    .flatten()
            })
            .unwrap_or_else(|| panic!("{queue} not in {listing}"));
        (1..=self.count)
            .find(|i| self.node(*i) == leader)
            .expect("a known node")
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(self.script())
            .args([
                "stop",
                &self.dir.to_string_lossy(),
                &self.prefix,
                &self.count.to_string(),
            ])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A PostgreSQL server of the test's own (`initdb` + `pg_ctl`), removed on drop.
pub struct PrivatePostgres {
    dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let postgres = Self::initialised();
        postgres.start_server();
        postgres
    }

    /// Starts a server that takes TCP connections over TLS only, with a certificate for
    /// `db.internal` (not for the address tests connect to) issued by a CA of its own; returns
    /// the server and that CA's PEM file.
    pub fn start_tls_only() -> (Self, PathBuf) {
        let postgres = Self::initialised();
        let certs = postgres.dir.join("certs");
        std::fs::create_dir_all(&certs).expect("certificate directory");
        let ca = certs.join("ca.pem");
        issue_certificates(&certs);
        run(
            Command::new("chown").args(["-R", "postgres:", &certs.to_string_lossy()]),
            "chown",
        );
        let data = postgres.dir.join("data");
        let mut conf =
            std::fs::read_to_string(data.join("postgresql.conf")).expect("postgresql.conf");
        conf.push_str(&format!(
            "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            certs.join("server.pem").display(),
            certs.join("server.key").display()
        ));
        std::fs::write(data.join("postgresql.conf"), conf).expect("postgresql.conf");
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        )
        .expect("pg_hba.conf");
        postgres.start_server();
        (postgres, ca)
    }

    /// A data directory made by `initdb`, the server not started.
    fn initialised() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL under /usr/lib/postgresql")
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("pg_ctl").exists())
            .max()
            .expect("a PostgreSQL installation with pg_ctl");
        let dir = std::env::temp_dir().join(format!("herald-postgres-{}", unique_id()));
        std::fs::create_dir_all(&dir).expect("data directory");
        let port = (0..200)
            .map(|_| 20000 + (rand_u16() % 10000))
            .find(|port| ports_free([*port]))
            .expect("a free port");
        let postgres = Self { dir, port, bin };
        run(
            Command::new("chown").args(["-R", "postgres:", &postgres.dir.to_string_lossy()]),
            "chown",
        );
        run(
            &mut postgres.as_postgres(
                "initdb",
                &[
                    "-D",
                    &postgres.data(),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                ],
            ),
            "initdb",
        );
        postgres
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn as_postgres(&self, tool: &str, args: &[&str]) -> Command {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args);
        command
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        run(
            &mut self.as_postgres(
                "pg_ctl",
                &[
                    "-D",
                    &self.data(),
                    "-o",
                    &options,
                    "-l",
                    &log.to_string_lossy(),
                    "-w",
                    "start",
                ],
            ),
            "pg_ctl start",
        );
    }

    /// Stops the server (fast shutdown: connections are cut).
    pub fn stop_server(&self) {
        run(
            &mut self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]),
            "pg_ctl stop",
        );
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA (`ca.pem`) and a server certificate it issued for `db.internal` (`server.pem`,
/// `server.key`) in `dir`, made with the openssl command.
pub fn issue_certificates(dir: &std::path::Path) {
    let openssl = |args: &[&str]| {
        run(
            Command::new("openssl").current_dir(dir).args(args),
            "openssl",
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Herald test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=db.internal",
            ],
        ]
        .concat(),
    );
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:db.internal\n").expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    let mut permissions = std::fs::metadata(dir.join("server.key"))
        .expect("key")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
    std::fs::set_permissions(dir.join("server.key"), permissions).expect("key permissions");
}

fn rand_u16() -> u16 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u16::from_le_bytes([bytes[0], bytes[1]])
}
