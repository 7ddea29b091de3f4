//! A long-polling client: `GET /api/longpoll?since=…`, and again as soon as
//! the answer arrives.

use std::rc::Rc;

use super::{after_error, connect, record_answer, with_cursor};
use crate::load::Run;

pub async fn client(run: Rc<Run>, index: usize) {
    let mut cursor = None;
    let base = format!(
        "/api/longpoll?timeout={}",
        run.settings.longpoll_timeout.as_secs_f64()
    );
    while !run.stop.is_cancelled() {
        let Ok(mut connection) = connect(&run).await else {
            after_error(&run).await;
            continue;
        };
        // The first request only learns the cursor: it answers at once.
        if cursor.is_none() {
            let Ok((200, body)) = connection.get_body("/api/poll").await else {
                after_error(&run).await;
                continue;
            };
            cursor = crate::load::record::next_in(&body);
            run.subscribed(index);
        }
        loop {
            let path = with_cursor(&base, cursor);
            let answer = tokio::select! {
                () = run.stop.cancelled() => return,
                answer = connection.get_body(&path) => answer,
            };
            let Ok((200, body)) = answer else { break };
            cursor = record_answer(&run, index, &body).or(cursor);
        }
        after_error(&run).await;
    }
}
