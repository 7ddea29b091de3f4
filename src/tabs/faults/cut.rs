//! Cutting a connection the way a failing network does: the middleware
//! around each technique's route that carries out a tab's faults.
//!
//! `resource.wrap(Cuts::new(Technique::sse)).wrap(counted)` — inside
//! [`crate::plumbing::traffic`], which finds the request's tab. For each request the
//! tab's [`Faults`](super::Faults) decide:
//!
//! - the tab is offline: the handler never runs, and the request is never
//!   answered;
//! - the tab asks to drop its connections while the handler is still at
//!   work (a parked long-poll): the handler is dropped, as when its client
//!   goes away, and the request is never answered;
//! - the tab asks while the response is on its way (an SSE stream, an open
//!   WebSocket): the stream stops mid-way.
//!
//! "Never answered" and "stops" are one trick: the response's body fails.
//! actix then closes the connection at once, without writing what it had
//! not written yet — for a request not yet answered, not even the status
//! line. The client sees the connection end: a network error in the
//! browser, an SSE stream without its last chunk, a WebSocket closed
//! without a close frame (1006). Nothing about it says "the server meant
//! it", exactly like a cable pulled out.
//!
//! Except for the two polls. A browser that sent a GET on a kept-alive
//! connection and got not one byte back resends it, silently, on a new
//! connection: the connection may just have timed out at the server, and
//! the page never learns of it (Chromium does; so does the HTTP/1.1 spec,
//! RFC 9112 §9.3.1, for idempotent requests). That retry hides the fault.
//! So a poll or long-poll that is cut gets its status line and headers
//! first, and then its body breaks off: the browser reports a network
//! error while reading it, as when a network fails mid-answer.
//!
//! A request that names no tab is passed through untouched, at the cost of
//! one look into its extensions.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use super::Admission;
use crate::plumbing::traffic::TabOf;
use crate::technique::Technique;

/// Why a connection ended without an answer. actix logs it (as an error,
/// with `Debug`) as it closes the connection, so the server's log says the
/// cut was asked for.
pub struct Cut;

impl std::fmt::Debug for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection cut on purpose: its tab asked for a fault (drop or offline)")
    }
}

impl std::error::Error for Cut {}

/// The middleware, for one technique's route.
pub struct Cuts {
    technique: Technique,
}

impl Cuts {
    pub fn new(technique: Technique) -> Self {
        Cuts { technique }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Cuts
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<CutBody<B>>;
    type Error = Error;
    type Transform = CutsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CutsService {
            service,
            technique: self.technique,
        }))
    }
}

pub struct CutsService<S> {
    service: S,
    technique: Technique,
}

impl<S, B> Service<ServiceRequest> for CutsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<CutBody<B>>;
    type Error = Error;
    type Future = Watched<S::Future, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let admission = match req.extensions().get::<TabOf>() {
            Some(TabOf(tab)) => tab.faults.admit(self.technique),
            None => Admission::Pass,
        };
        let head_first = breaks_off(self.technique);
        match admission {
            Admission::Cut => Watched::Now {
                response: Some(Box::new(req.into_response(unanswered(head_first)))),
            },
            Admission::Pass => Watched::Running {
                response: self.service.call(req),
                watch: None,
                head_first,
            },
            Admission::Watch(dropped) => Watched::Running {
                watch: Some(Box::new(Watch {
                    req: req.request().clone(),
                    dropped,
                })),
                response: self.service.call(req),
                head_first,
            },
        }
    }
}

/// Is a cut request of `technique` sent its head before it breaks off?
/// The polls' are: a browser would silently resend a poll that got no
/// byte at all (see the top of this file).
fn breaks_off(technique: Technique) -> bool {
    matches!(technique, Technique::poll | Technique::longpoll)
}

/// A response that is never sent, or (`head_first`) only its head.
fn unanswered<B>(head_first: bool) -> HttpResponse<CutBody<B>> {
    HttpResponse::with_body(StatusCode::OK, CutBody::Cut { head_first })
}

pin_project_lite::pin_project! {
    /// The handler at work, watched for a drop; or a cut decided at once.
    ///
    /// Every request of a technique waits in this future, a parked
    /// long-poll for as long as it is parked: what only a tab's request
    /// needs (the watch) and the rare cut decided at once are boxed, so a
    /// request that names no tab carries two pointers here, not the 150
    /// bytes of a response.
    #[project = WatchedProj]
    pub enum Watched<F, B> {
        Now {
            response: Option<Box<ServiceResponse<CutBody<B>>>>,
        },
        Running {
            #[pin]
            response: F,
            // `None`: nothing can cut it.
            watch: Option<Box<Watch>>,
            head_first: bool,
        },
    }
}

/// What a request whose tab may ask for a drop is watched with.
pub struct Watch {
    /// Resolves when the tab asks for a drop.
    dropped: LocalBoxFuture<'static, ()>,
    /// For the unanswered response, if the drop comes first.
    req: HttpRequest,
}

impl<F, B> Future for Watched<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<CutBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            WatchedProj::Now { response } => {
                Poll::Ready(Ok(*response.take().expect("polled after completion")))
            }
            WatchedProj::Running {
                response,
                watch,
                head_first,
            } => {
                if let Some(Watch { dropped, .. }) = watch.as_deref_mut()
                    && dropped.as_mut().poll(cx).is_ready()
                {
                    // The handler is dropped with this future, as when its
                    // client goes away: no waiter is left behind.
                    let Watch { req, .. } = *watch.take().expect("polled after completion");
                    return Poll::Ready(Ok(ServiceResponse::new(req, unanswered(*head_first))));
                }
                let response = std::task::ready!(response.poll(cx))?;
                let dropped = watch.take().map(|watch| watch.dropped);
                Poll::Ready(Ok(
                    response.map_body(|_, body| CutBody::watching(body, dropped))
                ))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A technique's response body, cut when its tab asks.
    #[project = CutBodyProj]
    pub enum CutBody<B> {
        /// Nothing can cut it: no tab, or a complete answer.
        Plain {
            #[pin]
            body: B,
        },
        /// A stream (SSE, a WebSocket's frames): fails when the tab asks.
        Watched {
            #[pin]
            body: B,
            dropped: LocalBoxFuture<'static, ()>,
        },
        /// Fails: the connection closes. With `head_first`, only once the
        /// head is out (it waits one turn, and actix writes the head).
        Cut {
            head_first: bool,
        },
    }
}

impl<B: MessageBody> CutBody<B> {
    /// Only a stream is watched: a complete answer is written at once.
    fn watching(body: B, dropped: Option<LocalBoxFuture<'static, ()>>) -> Self {
        match dropped {
            Some(dropped) if body.size() == BodySize::Stream => CutBody::Watched { body, dropped },
            _ => CutBody::Plain { body },
        }
    }
}

impl<B: MessageBody> MessageBody for CutBody<B> {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        match self {
            CutBody::Plain { body } | CutBody::Watched { body, .. } => body.size(),
            CutBody::Cut { .. } => BodySize::Stream,
        }
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        if let CutBodyProj::Watched { dropped, .. } = self.as_mut().project()
            && dropped.as_mut().poll(cx).is_ready()
        {
            self.set(CutBody::Cut { head_first: false });
        }
        match self.project() {
            CutBodyProj::Plain { body } | CutBodyProj::Watched { body, .. } => {
                body.poll_next(cx).map_err(Into::into)
            }
            CutBodyProj::Cut { head_first } if *head_first => {
                // Nothing yet: actix writes the head out, and asks again.
                *head_first = false;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            CutBodyProj::Cut { .. } => Poll::Ready(Some(Err(Box::new(Cut)))),
        }
    }

    fn try_into_bytes(self) -> Result<Bytes, Self> {
        match self {
            CutBody::Plain { body } => body
                .try_into_bytes()
                .map_err(|body| CutBody::Plain { body }),
            other => Err(other),
        }
    }
}
