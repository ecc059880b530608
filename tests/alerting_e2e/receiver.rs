//! The webhook receiver the end-to-end test points every Alertmanager receiver at: an axum
//! server on 127.0.0.1 that records each notification with its arrival time and the receiver
//! named in the request path.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::Value;

/// One webhook notification as Alertmanager sent it.
#[derive(Debug, Clone)]
pub struct Notification {
    /// When it arrived.
    pub at: Instant,
    /// The receiver name, from the URL path.
    pub receiver: String,
    /// The webhook payload: `status`, `groupLabels`, `alerts` (each with `status` and `labels`).
    pub body: Value,
}

impl Notification {
    /// The alerts of this notification with their own status (`firing` or `resolved`).
    pub fn alerts(&self) -> impl Iterator<Item = &Value> {
        self.body["alerts"].as_array().into_iter().flatten()
    }
}

/// A running recorder; stops serving when dropped.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Notification>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts the recorder on a free port of 127.0.0.1.
    pub async fn start() -> Receiver {
        let log = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/{receiver}", post(record))
            .with_state(log.clone());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let addr = listener.local_addr().expect("receiver address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the webhook receiver serves");
        });

        Receiver { addr, log, server }
    }

    /// Every notification so far, oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        self.log.lock().unwrap().clone()
    }

    /// The notifications that reached one receiver.
    pub fn to(&self, receiver: &str) -> Vec<Notification> {
        self.notifications()
            .into_iter()
            .filter(|n| n.receiver == receiver)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn record(
    State(log): State<Arc<Mutex<Vec<Notification>>>>,
    Path(receiver): Path<String>,
    Json(body): Json<Value>,
) {
    let notification = Notification {
        at: Instant::now(),
        receiver,
        body,
    };
    log.lock().unwrap().push(notification);
}
