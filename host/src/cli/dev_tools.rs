//! `plugboard queue` and `plugboard kv`: look into and change a running `plugboard dev`'s
//! queues and key-value tables through its admin API.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::process::ExitCode;

use crate::dev::admin::token::AdminToken;
use crate::dev::admin::{AdminClient, SendRequest, client::encode_key};

/// What `plugboard queue` does.
#[derive(clap::Subcommand)]
pub enum QueueCommand {
    /// Every queue with its depth: visible, in flight, delayed.
    List,
    /// The first messages of a queue, without receiving them.
    Peek {
        /// The queue.
        queue: String,
        /// How many.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Put a message on a queue, as a producer would; prints its id.
    Send {
        /// The queue.
        queue: String,
        /// The message body.
        body: String,
        /// A text message attribute, `name=value` (repeatable).
        #[arg(long = "attr", value_parser = parse_attribute)]
        attributes: Vec<(String, String)>,
        /// The message group (FIFO queues).
        #[arg(long)]
        group: Option<String>,
        /// The deduplication id (FIFO queues without content-based deduplication).
        #[arg(long)]
        dedup: Option<String>,
        /// Seconds before its first delivery (standard queues, 0-900).
        #[arg(long)]
        delay: Option<u32>,
    },
    /// Move every message of a dead-letter queue back to the queue that feeds it.
    Redrive {
        /// The dead-letter queue.
        queue: String,
    },
}

/// Which running dev server the tools talk to, and where its admin token is.
#[derive(clap::Args)]
struct DevServer {
    /// The running dev server.
    #[arg(long, env = "PLUGBOARD_URL", default_value = "http://127.0.0.1:3000", global = true)]
    url: String,
    /// Its state directory (the manifest's `app.state-dir`), which holds its admin token.
    #[arg(long, env = "PLUGBOARD_STATE_DIR", default_value = ".plugboard", global = true)]
    state_dir: std::path::PathBuf,
}

impl DevServer {
    /// The server's admin API, with the token it wrote.
    fn admin(&self) -> anyhow::Result<AdminClient> {
        Ok(AdminClient::new(&self.url, AdminToken::read(&self.state_dir)?))
    }
}

/// Arguments of `plugboard queue`.
#[derive(clap::Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    command: QueueCommand,
    #[command(flatten)]
    server: DevServer,
}

/// Ask the running dev server and print its answer.
pub async fn queue(args: QueueArgs) -> anyhow::Result<ExitCode> {
    let admin = args.server.admin()?;
    match args.command {
        QueueCommand::List => {
            let stats = admin.call("GET", "queues").await?;
            println!("{:<28} {:>8} {:>9} {:>8}", "queue", "visible", "in-flight", "delayed");
            for q in stats.as_array().into_iter().flatten() {
                println!(
                    "{:<28} {:>8} {:>9} {:>8}",
                    q["name"].as_str().unwrap_or_default(),
                    q["visible"],
                    q["in_flight"],
                    q["delayed"]
                );
            }
        }
        QueueCommand::Peek { queue, limit } => {
            let messages = admin.call("GET", &format!("queues/{queue}/messages?limit={limit}")).await?;
            println!("{}", serde_json::to_string_pretty(&messages)?);
        }
        QueueCommand::Send { queue, body, attributes, group, dedup, delay } => {
            let send = SendRequest { body, attributes: attributes.into_iter().collect(), group, dedup, delay };
            let body = serde_json::to_vec(&send)?;
            let sent = admin.call_with("POST", &format!("queues/{queue}/messages"), "application/json", body).await?;
            println!("{}", sent.json()["id"].as_str().unwrap_or_default());
        }
        QueueCommand::Redrive { queue } => {
            let moved = admin.call("POST", &format!("queues/{queue}/redrive")).await?;
            println!(
                "moved {} message(s) from {} to {}",
                moved["moved"],
                moved["from"].as_str().unwrap_or_default(),
                moved["to"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `name=value`.
fn parse_attribute(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}`: expected name=value"))
}

/// What `plugboard kv` does. STORE is a table name (the right side of a `grants.stores` entry).
#[derive(clap::Subcommand)]
pub enum KvCommand {
    /// The app's stores.
    Stores,
    /// A store's keys, one per line.
    List {
        /// The store.
        store: String,
    },
    /// The value at a key, as stored (raw bytes).
    Get {
        /// The store.
        store: String,
        /// The key.
        key: String,
    },
    /// Write a value (`-` reads it from stdin).
    Put {
        /// The store.
        store: String,
        /// The key.
        key: String,
        /// The value, or `-` for stdin.
        value: String,
    },
    /// Remove a key.
    Delete {
        /// The store.
        store: String,
        /// The key.
        key: String,
    },
}

/// Arguments of `plugboard kv`.
#[derive(clap::Args)]
pub struct KvArgs {
    #[command(subcommand)]
    command: KvCommand,
    #[command(flatten)]
    server: DevServer,
}

/// Read or change a running dev server's key-value tables.
pub async fn kv(args: KvArgs) -> anyhow::Result<ExitCode> {
    let admin = args.server.admin()?;
    let value_path = |store: &str, key: &str| format!("stores/{store}/value?key={}", encode_key(key));
    match args.command {
        KvCommand::Stores => {
            let stores = admin.call("GET", "stores").await?;
            stores["stores"]
                .as_array()
                .into_iter()
                .flatten()
                .for_each(|s| println!("{}", s.as_str().unwrap_or_default()));
        }
        KvCommand::List { store } => {
            let listed = admin.call("GET", &format!("stores/{store}/keys")).await?;
            listed["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .for_each(|k| println!("{}", k.as_str().unwrap_or_default()));
            if listed["truncated"] == true {
                eprintln!("(the first {} keys only)", listed["keys"].as_array().map_or(0, Vec::len));
            }
        }
        KvCommand::Get { store, key } => {
            let value = admin.call_with("GET", &value_path(&store, &key), "application/json", Vec::new()).await?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&value.body)?;
            if stdout.is_terminal() {
                writeln!(stdout)?;
            }
        }
        KvCommand::Put { store, key, value } => {
            let bytes = if value == "-" {
                let mut bytes = Vec::new();
                std::io::stdin().read_to_end(&mut bytes)?;
                bytes
            } else {
                value.into_bytes()
            };
            admin.call_with("PUT", &value_path(&store, &key), "application/octet-stream", bytes).await?;
        }
        KvCommand::Delete { store, key } => {
            admin.call_with("DELETE", &value_path(&store, &key), "application/json", Vec::new()).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
