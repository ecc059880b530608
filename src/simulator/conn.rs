//! Listeners and connections, with a way for a handler to take the raw connection over.
//!
//! Some faults cannot be expressed as an HTTP response: closing before any answer, resetting
//! mid-body, sending less than `Content-Length` promised. For those the handler sends a
//! [`Takeover`] to its connection's task, which drops the HTTP machinery, writes the given raw
//! bytes itself and ends the TCP connection the way asked. Everything else is served by hyper
//! through the axum router.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::{Extension, Router};
use bytes::Bytes;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a connection may finish its current request after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// A pause before a reset, so the bytes written before it reach the client first.
const BEFORE_RESET: Duration = Duration::from_millis(100);

/// What a handler asks its connection to do instead of sending a response.
#[derive(Debug)]
pub(crate) enum Takeover {
    /// Close the connection without writing anything.
    Close,
    /// Write nothing and keep the connection open until the client closes it (or shutdown).
    Hang,
    /// Write these bytes, then end the connection.
    Write {
        /// Raw bytes: a response head and part of a body.
        bytes: Bytes,
        /// How the connection ends after them.
        ending: Ending,
    },
}

/// How a taken-over connection ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending {
    /// A TCP reset (RST).
    Reset,
    /// An orderly close (FIN).
    Close,
}

/// What a handler knows about the connection its request arrived on.
#[derive(Debug, Clone)]
pub(crate) struct ConnContext {
    /// The listener's region.
    pub(crate) region: Arc<str>,
    /// The listener's position, from 1.
    pub(crate) listener: usize,
    takeover: mpsc::UnboundedSender<Takeover>,
}

impl ConnContext {
    /// Hands the connection over; the handler should then wait forever (it will be dropped).
    pub(crate) fn take_over(&self, takeover: Takeover) {
        // The receiver lives as long as the connection; if it is gone there is nothing to do.
        let _ = self.takeover.send(takeover);
    }
}

/// Accepts connections until `shutdown`, serving each with `router`.
pub(crate) async fn serve(
    listener: TcpListener,
    region: Arc<str>,
    position: usize,
    router: Router,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // Accept errors (too many open files, aborted handshakes) pass; keep serving.
                tracing::warn!(region = %region, cause = %err, "simulator accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);

        let (takeover_tx, takeover_rx) = mpsc::unbounded_channel();
        let context = ConnContext {
            region: region.clone(),
            listener: position,
            takeover: takeover_tx,
        };
        let router = router.clone().layer(Extension(context));
        tracker.spawn(connection(stream, router, takeover_rx, shutdown.clone()));
    }
}

async fn connection(
    stream: TcpStream,
    router: Router,
    mut takeover_rx: mpsc::UnboundedReceiver<Takeover>,
    shutdown: CancellationToken,
) {
    let slot = Arc::new(Mutex::new(Some(stream)));
    let io = TokioIo::new(SharedStream(slot.clone()));
    let mut conn = Box::pin(
        hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(io, TowerToHyperService::new(router)),
    );

    // Serve until the connection ends, a handler takes it over, or shutdown.
    let takeover = tokio::select! {
        _ = conn.as_mut() => None,
        Some(takeover) = takeover_rx.recv() => Some(takeover),
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await;
            None
        }
    };
    drop(conn);

    let Some(takeover) = takeover else { return };
    let Some(stream) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() else {
        return;
    };
    finish(stream, takeover, shutdown).await;
}

/// Writes a takeover's bytes and ends the connection as asked.
async fn finish(mut stream: TcpStream, takeover: Takeover, shutdown: CancellationToken) {
    let (bytes, ending) = match takeover {
        Takeover::Close => (Bytes::new(), Ending::Close),
        Takeover::Hang => {
            tokio::select! {
                () = until_peer_closes(&mut stream) => {}
                () = shutdown.cancelled() => {}
            }
            return;
        }
        Takeover::Write { bytes, ending } => (bytes, ending),
    };
    if stream.write_all(&bytes).await.is_err() || stream.flush().await.is_err() {
        return;
    }

    match ending {
        Ending::Close => {
            let _ = stream.shutdown().await;
        }
        Ending::Reset => {
            tokio::time::sleep(BEFORE_RESET).await;
            // A zero linger time makes the close below send RST instead of FIN.
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
    }
    drop(stream);
}

/// Reads and discards whatever the client still sends, until it closes or the read fails.
async fn until_peer_closes(stream: &mut TcpStream) {
    let mut buffer = [0u8; 4096];
    while let Ok(read) = stream.read(&mut buffer).await {
        if read == 0 {
            return;
        }
    }
}

/// A TCP stream that the connection task can take back from hyper.
struct SharedStream(Arc<Mutex<Option<TcpStream>>>);

impl SharedStream {
    fn with<T>(
        &self,
        f: impl FnOnce(Pin<&mut TcpStream>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            Some(stream) => f(Pin::new(stream)),
            None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_read(cx, buf))
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(|stream| stream.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_shutdown(cx))
    }
}
