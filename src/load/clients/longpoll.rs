//! A long-polling client: `GET /api/longpoll?since=…`, and again as soon as
//! the answer arrives.

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
    }
}
