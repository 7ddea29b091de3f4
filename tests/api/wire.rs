//! (Being built: issue 16.)
