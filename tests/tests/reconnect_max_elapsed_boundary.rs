//! `max_elapsed` counts from the first failure to the planned retry: a retry that lands exactly
//! on the limit is still made; one past it ends the session (`RetriesExhausted`).

use std::time::Duration;

use resock_core::session::ReconnectPolicy;
use resock_core::{ClosedReason, SessionState};
use resock_tests::pair::Pair;

#[test]
fn a_retry_exactly_at_the_limit_is_made_and_the_next_one_is_not() {
    let mut config = Pair::config();
    config.reconnect = ReconnectPolicy::fixed(Duration::from_secs(1)).max_elapsed(Duration::from_secs(1));
    let mut rig = Pair::new(config);
    rig.server.up = false;
    rig.run_for(Duration::from_secs(10));
    // Refused at 10 ms (the first failure): a retry 1 s later is exactly at the limit.
    assert_eq!(rig.connects.len(), 2, "{:?}", rig.disconnects());
    assert!(matches!(
        rig.session.state(),
        SessionState::Closed(ClosedReason::RetriesExhausted(_))
    ));
}
