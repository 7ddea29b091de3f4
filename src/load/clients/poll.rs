//! A short-polling client: `GET /api/poll?since=…` every poll interval, on
//! a fixed schedule that starts at a random phase, like a page's timer.

use tokio::time::{Instant, MissedTickBehavior};

use super::{Error, connect, record_answer, unexpected, with_cursor};
use crate::load::Run;

pub async fn connection(run: &Run, index: usize, cursor: &mut Option<u64>) -> Result<(), Error> {
    let mut connection = connect(run, index).await?;
    let interval = run.settings.poll_interval;
    let phase = interval.mul_f64(rand::random::<f64>());
    let mut timer = tokio::time::interval_at(Instant::now() + phase, interval);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let (status, body) = connection
            .get_body(&with_cursor("/api/poll", *cursor))
            .await?;
        if status != 200 {
            return Err(unexpected(status));
        }
        *cursor = record_answer(run, index, body).or(*cursor);
        run.subscribed(index);
        timer.tick().await;
    }
}
