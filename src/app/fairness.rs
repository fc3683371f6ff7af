//! Requests in flight per viewer: one viewer (or one address, for requests without a valid
//! token) has at most `KEEPSAKE_MAX_CONCURRENT` requests running at once; the next one is
//! answered 429 with `Retry-After` at once, before any work is done for it. [`in_flight`]
//! is the layer around the routes that do work for a user (`/graphql`, attachments'
//! content); a request keeps its place until its answer's body has been sent (a download
//! streams after its handler returns).
//!
//! With each request also held to two pool connections (`soft_delete::Budget`), one viewer
//! holds at most twice that many connections, whatever they send.

use super::bearer::authorization;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::graphql_http::{self, MediaType, Refusal};

/// Whose requests count together.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Who {
    /// A signed-in user (an undo credential counts as its user).
    Viewer(i64),
    /// A client without a valid token, by its address.
    Address(IpAddr),
}

impl Who {
    /// For messages: "user" or "address".
    pub fn noun(self) -> &'static str {
        match self {
            Who::Viewer(_) => "user",
            Who::Address(_) => "address",
        }
    }
}

/// The requests in flight, by whom.
#[derive(Debug)]
pub struct InFlight {
    max: u32,
    counts: Mutex<HashMap<Who, u32>>,
}

/// One request's place; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    owner: Arc<InFlight>,
    who: Who,
}

impl InFlight {
    /// At most `max` requests in flight per viewer or address.
    pub fn new(max: u32) -> InFlight {
        InFlight {
            max,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// The limit.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// How many requests of `who` are in flight now.
    pub fn count(&self, who: Who) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&who).copied().unwrap_or(0)
    }

    /// A place for one more request of `who`, or `None` when they have `max` in flight.
    pub fn enter(self: &Arc<Self>, who: Who) -> Option<Slot> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(who).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            owner: self.clone(),
            who,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .owner
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.who) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.who);
            }
        }
    }
}

/// Takes the request's place among its user's (or address's) requests in flight, or answers
/// 429 at once; the place is given back once the answer's body has been sent.
pub(super) async fn in_flight(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let authorization = authorization(request.headers());
    // The token's signature is enough to say whose request it is; nothing is read yet.
    let who = match state.services.tokens.claimed_user(authorization) {
        Some(user) => Who::Viewer(user),
        None => Who::Address(
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip()),
        ),
    };
    let Some(slot) = state.in_flight.enter(who) else {
        tracing::info!(?who, "too many requests in flight: 429");
        if request.method() != Method::GET {
            // Read (up to a point) what the client is still sending, so it sees the answer.
            graphql_http::drain(request.into_body()).await;
        }
        return Refusal::TooManyRequests {
            limit: state.in_flight.max(),
            who: who.noun(),
        }
        .into_response(MediaType::Json);
    };
    next.run(request)
        .await
        .map(|body| Body::new(Held { body, _slot: slot }))
}

/// An answer's body, holding its request's place until it has been sent (or dropped).
struct Held {
    body: Body,
    _slot: Slot,
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_viewer_has_their_own_places_and_a_finished_request_frees_one() {
        let in_flight = Arc::new(InFlight::new(2));
        let a = Who::Viewer(1);
        let first = in_flight.enter(a).expect("one");
        let _second = in_flight.enter(a).expect("two");
        assert!(in_flight.enter(a).is_none(), "a third is refused");
        let _other = in_flight
            .enter(Who::Viewer(2))
            .expect("another viewer is not held back");
        drop(first);
        assert!(
            in_flight.enter(a).is_some(),
            "a finished request frees its place"
        );
    }

    #[test]
    fn the_map_forgets_whoever_has_nothing_in_flight() {
        let in_flight = Arc::new(InFlight::new(1));
        drop(in_flight.enter(Who::Address(IpAddr::from([127, 0, 0, 1]))));
        assert!(in_flight.counts.lock().unwrap().is_empty());
    }
}
