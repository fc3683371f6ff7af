//! `/graphql/ws`: subscriptions over WebSocket, protocol `graphql-transport-ws`, served by
//! async-graphql-axum's transport (`GraphQLWebSocket`, the connection its
//! `GraphQLSubscription` service runs). Keepsake's handler adds what that service leaves to
//! the application: the token from `connection_init`'s payload (`{"Authorization": "Bearer
//! …"}`; a connection without a valid one is closed with 4403), a bound on a message's size
//! (a bigger one closes the socket with 1009, "message too big"), and the executor that
//! runs only subscriptions, within the limits (`KeepsakeSchema::subscribe`).
//!
//! `/graphql` keeps its own handler (`graphql.rs`): GraphQL over HTTP's status codes and
//! media types, uploads, persisted queries and the per-request budget are its, and the
//! integration's extractor follows none of them exactly.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt as _, StreamExt as _};

use super::AppState;
use crate::auth::Bearer;
use crate::graphql::{RequestAuth, RequestContext, Subscriber};

/// The largest message a client may send (a subscription document and its variables).
pub(super) const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// How long a socket may stay open without sending `connection_init`.
const INIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// graphql-transport-ws's close code for a socket that did not send `connection_init` in time.
const INIT_TIMED_OUT: u16 = 4408;

/// WebSocket's close code for a message too big to process (RFC 6455).
const MESSAGE_TOO_BIG: u16 = 1009;

/// The close code async-graphql gives both a refused `connection_init` and a message that is
/// not the protocol's; graphql-transport-ws tells them apart (4403 and 4400), and so does
/// Keepsake, on the way out.
const PROTOCOL_ERROR: u16 = 1002;

/// The close code async-graphql gives a `subscribe` before the connection was acknowledged;
/// graphql-transport-ws says 4401.
const HANDSHAKE_NOT_DONE: u16 = 1011;

/// Upgrades to a WebSocket speaking a GraphQL subscription protocol; 400 with a line saying
/// what is missing otherwise.
pub(super) async fn subscriptions(
    State(state): State<AppState>,
    protocol: Result<GraphQLProtocol, StatusCode>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let refuse = |why: &str| {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "400: {why}; /graphql/ws serves subscriptions over WebSocket with the \
                 graphql-transport-ws protocol (a client such as graphql-ws)\n"
            ),
        )
            .into_response()
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(_) => return refuse("this is not a WebSocket upgrade"),
    };
    let Ok(protocol) = protocol else {
        return refuse("Sec-WebSocket-Protocol names no GraphQL protocol");
    };
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, state, protocol))
}

/// Serves one connection until either side closes it.
async fn serve(socket: WebSocket, state: AppState, protocol: GraphQLProtocol) {
    let (mut sink, stream) = socket.split();
    // Set when connection_init is refused, so its close says 4403.
    let refused = Arc::new(AtomicBool::new(false));
    // What goes out passes through a small channel, so the reader can add a close frame.
    let (outgoing, mut queued) = futures_channel::mpsc::channel::<Message>(32);
    let init_refused = refused.clone();
    let writer = tokio::spawn(async move {
        // A burst (a subscription hands out a batch of events at once) is fed frame by frame
        // and flushed once: one write to the socket for the burst, not one per event.
        'socket: while let Some(first) = queued.next().await {
            let mut next = Some(first);
            while let Some(mut message) = next.take() {
                outgoing_close_code(&mut message, init_refused.load(Ordering::Relaxed));
                let closing = matches!(message, Message::Close(_));
                if sink.feed(message).await.is_err() {
                    break 'socket;
                }
                if closing {
                    let _ = sink.flush().await;
                    break 'socket;
                }
                // An error: nothing more is waiting now (or the sender is gone).
                next = queued.try_recv().ok();
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut closer = outgoing.clone();
    let incoming = stream.map(move |message| {
        if let Err(err) = &message
            && err.to_string().contains("Space limit exceeded")
        {
            tracing::info!("a subscription client sent a message over the size limit");
            let _ = closer.try_send(Message::Close(Some(CloseFrame {
                code: MESSAGE_TOO_BIG,
                reason: Cow::from(format!(
                    "message too big: at most {} KiB",
                    MAX_MESSAGE_BYTES / 1024
                ))
                .into_owned()
                .into(),
            })));
        }
        message
    });
    let init_state = state.clone();
    let answered = Arc::new(AtomicBool::new(false));
    let init_answered = answered.clone();
    let mut timer_closer = outgoing.clone();
    let served =
        GraphQLWebSocket::new_with_pair(outgoing, incoming, state.schema.clone(), protocol)
            .on_connection_init(move |payload| async move {
                let signed_in = connection_init(init_state, payload).await;
                refused.store(signed_in.is_err(), Ordering::Relaxed);
                init_answered.store(true, Ordering::Relaxed);
                signed_in
            })
            .serve();
    // A socket that never signs in is closed (4408, as the protocol says) and then dropped,
    // whether or not its client answers the close: unsigned sockets cannot pile up.
    let unsigned = async move {
        tokio::time::sleep(INIT_TIMEOUT).await;
        if answered.load(Ordering::Relaxed) {
            return std::future::pending::<()>().await;
        }
        tracing::info!("a subscription socket sent no connection_init in time; closing it");
        let _ = timer_closer.try_send(Message::Close(Some(CloseFrame {
            code: INIT_TIMED_OUT,
            reason: "connection_init was not sent in time".into(),
        })));
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    tokio::select! {
        () = served => {}
        () = unsigned => {}
    }
    let _ = writer.await;
}

/// Signs the connection in from `connection_init`'s payload; an error closes it with 4403.
async fn connection_init(
    state: AppState,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    let authorization = payload
        .as_object()
        .and_then(|fields| {
            fields
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
        })
        .and_then(|(_, value)| value.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            async_graphql::Error::new(
                "sign in: send {\"Authorization\": \"Bearer <token>\"} as connection_init's payload",
            )
        })?;
    let viewer = match state
        .services
        .tokens
        .authenticate(&state.db, Some(&authorization))
        .await
    {
        Ok(Bearer::Viewer(viewer)) => viewer,
        Ok(Bearer::Undo(_)) => {
            return Err(async_graphql::Error::new(
                "an undo credential signs nobody in: subscribe with a user's token",
            ));
        }
        Err(err) => return Err(async_graphql::Error::new(err.to_string())),
    };
    tracing::debug!(viewer = viewer.id(), "subscription connection signed in");
    // No cache in the connection's loaders: it lives as long as the socket, and what it
    // would keep would go stale and grow.
    let context = RequestContext::new(RequestAuth::Viewer(viewer), state.db.clone(), false);
    context.loaders.enable_all_cache(false);
    let mut data = Data::default();
    data.insert(context);
    data.insert(Subscriber { authorization });
    Ok(data)
}

/// Rewrites the close code async-graphql-axum chose into the one the `graphql-transport-ws`
/// protocol names (a refused `connection_init` is 4403, another protocol error 4400, a
/// message before the handshake 4401), and shortens a reason past the 123 bytes a close frame
/// can carry.
fn outgoing_close_code(message: &mut Message, init_refused: bool) {
    let Message::Close(Some(frame)) = message else {
        return;
    };
    frame.code = match frame.code {
        PROTOCOL_ERROR if init_refused => 4403,
        PROTOCOL_ERROR => 4400,
        HANDSHAKE_NOT_DONE => 4401,
        code => code,
    };
    if frame.reason.len() > 123 {
        let mut end = 120;
        while !frame.reason.as_str().is_char_boundary(end) {
            end -= 1;
        }
        frame.reason = format!("{}…", &frame.reason.as_str()[..end]).into();
    }
}
