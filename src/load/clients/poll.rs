//! A short-polling client: `GET /api/poll?since=…` every poll interval, on
//! a fixed schedule that starts at a random phase, like a page's timer.

use std::rc::Rc;

use tokio::time::{Instant, MissedTickBehavior};

use super::{after_error, connect, record_answer, with_cursor};
use crate::load::Run;

pub async fn client(run: Rc<Run>, index: usize) {
    let mut cursor = None;
    let interval = run.settings.poll_interval;
    let phase = interval.mul_f64(rand::random::<f64>());
    let mut timer = tokio::time::interval_at(Instant::now() + phase, interval);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while !run.stop.is_cancelled() {
        let Ok(mut connection) = connect(&run).await else {
            after_error(&run).await;
            continue;
        };
        loop {
            let path = with_cursor("/api/poll", cursor);
            let Ok((200, body)) = connection.get_body(&path).await else {
                break;
            };
            cursor = record_answer(&run, index, &body).or(cursor);
            run.subscribed(index);
            tokio::select! {
                () = run.stop.cancelled() => return,
                _ = timer.tick() => {}
            }
        }
        after_error(&run).await;
    }
}
