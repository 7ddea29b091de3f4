//! A long-polling client: `GET /api/longpoll?since=…`, and again as soon as
//! the answer arrives.
//!
//! One publish answers every parked long-poll at once, and this one thread
//! plays all the clients. Each answer is stamped when it is read; sending
//! the next request (a loopback write that costs about as much as the
//! server's answer did) waits until the answers already here are read and
//! stamped too. Otherwise the tool's own writes would make later answers
//! look late: 10,000 real clients re-poll on 10,000 machines at once.

use super::{Error, connect, record_answer, unexpected, with_cursor};
use crate::load::Run;
use crate::load::record::next_in;

pub async fn connection(run: &Run, index: usize, cursor: &mut Option<u64>) -> Result<(), Error> {
    let mut connection = connect(run, index).await?;
    if cursor.is_none() {
        // A first short poll only learns the cursor; it answers at once.
        let (_, body) = connection.get_body("/api/poll").await?;
        *cursor = next_in(body);
        run.subscribed(index);
    }
    let path = format!(
        "/api/longpoll?timeout={}",
        run.settings.longpoll_timeout.as_secs_f64()
    );
    loop {
        let (status, body) = connection.get_body(&with_cursor(&path, *cursor)).await?;
        if status != 200 {
            return Err(unexpected(status));
        }
        *cursor = record_answer(run, index, body).or(*cursor);
        // Let the other clients read (and stamp) what has arrived first.
        tokio::task::yield_now().await;
    }
}
