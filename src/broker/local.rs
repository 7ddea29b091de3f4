//! The in-process broker: the hub numbers and keeps the messages itself.
//! Publishing is one call into the hub and cannot fail.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::{Broker, BrokerError};
use crate::hub::Hub;

pub struct LocalBroker {
    hub: Arc<Hub>,
}

impl LocalBroker {
    pub fn new(hub: Arc<Hub>) -> LocalBroker {
        LocalBroker { hub }
    }
}

impl Broker for LocalBroker {
    fn publish<'a>(
        &'a self,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerError>> {
        let id = self.hub.publish(author, text).id;
        Box::pin(std::future::ready(Ok(id)))
    }

    fn kind(&self) -> &'static str {
        "local"
    }

    fn url(&self) -> Option<&str> {
        None
    }
}
