//! Serving connections: HTTP/1.1 through hyper with a header read timeout, at most a set
//! number of connections at a time, and a graceful stop.
//!
//! A client that opens a connection and sends half a header (or nothing) is closed after
//! the header read timeout; it also applies while a keep-alive connection waits for its
//! next request. When the connection cap is reached, the oldest connection with no request
//! in flight is closed to make room (its client reconnects); when every connection is busy,
//! the new one is refused. Either way the process never runs out of file descriptors and
//! the API keeps answering.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// How connections are bounded.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (and how long a keep-alive
    /// connection may wait for its next request).
    pub header_timeout: Duration,
    /// How long a stop waits for requests in flight.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { max_connections: 1024, header_timeout: Duration::from_secs(10), drain_timeout: Duration::from_secs(35) }
    }
}

/// The open connections, oldest first.
struct Connections {
    max: usize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next: u64,
    open: BTreeMap<u64, Open>,
}

#[derive(Clone)]
struct Open {
    /// Requests in flight on it.
    busy: Arc<AtomicUsize>,
    /// Told when the connection must make room.
    evict: Arc<Notify>,
}

/// A connection's place in the table; leaving drops it.
struct Slot {
    id: u64,
    open: Open,
    connections: Arc<Connections>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.table.lock().unwrap_or_else(PoisonError::into_inner).open.remove(&self.id);
    }
}

impl Connections {
    /// A place for a new connection: at the cap, the oldest idle connection is told to
    /// close; `None` when every connection is busy.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if table.open.len() >= self.max {
            let idle = table.open.iter().find(|(_, o)| o.busy.load(Ordering::Acquire) == 0).map(|(id, _)| *id)?;
            if let Some(evicted) = table.open.remove(&idle) {
                evicted.evict.notify_one();
            }
        }
        table.next += 1;
        let id = table.next;
        let open = Open { busy: Arc::new(AtomicUsize::new(0)), evict: Arc::new(Notify::new()) };
        table.open.insert(id, open.clone());
        Some(Slot { id, open, connections: self.clone() })
    }

    fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(PoisonError::into_inner).open.len()
    }
}

/// Counts a request in flight for as long as it lives.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(counter.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish (for at most the drain timeout).
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Connections { max: limits.max_connections.max(1), table: Mutex::default() });
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        while tasks.try_join_next().is_some() {}
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors or the like: back off instead of spinning.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = connections.admit() else {
            tracing::warn!(open = connections.len(), "every connection is busy; refusing a new one");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        tasks.spawn(connection(stream, remote, router.clone(), slot, stopping.clone(), limits.header_timeout));
    }
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(limits.drain_timeout, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(left = tasks.len(), "requests still in flight after the drain timeout; closing them");
        tasks.abort_all();
    }
    Ok(())
}

/// One connection, until the client closes it, it is evicted, or the server stops.
async fn connection(
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    router: Router,
    slot: Slot,
    mut stopping: watch::Receiver<bool>,
    header_timeout: Duration,
) {
    let busy = slot.open.busy.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        let guard = Busy::new(&busy);
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await;
            drop(guard);
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let evict = slot.open.evict.clone();
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%remote, %error, "connection ended with an error");
            }
        }
        () = evict.notified() => {
            // Chosen because no request was in flight: a half-sent header is not one, and a
            // graceful close would wait for it. Closing at once frees the descriptor.
            if slot.open.busy.load(Ordering::Acquire) > 0 {
                connection.as_mut().graceful_shutdown();
                let _ = connection.as_mut().await;
            }
        }
        () = async {
            // The guard `wait_for` returns must not live across the awaits below.
            let _ = stopping.wait_for(|stop| *stop).await;
        } => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.as_mut().await;
        }
    }
    drop(slot);
}
