//! End-to-end: a bounded webhook soak with the host SIGKILLed mid-run (issue 17's CI part;
//! the full size and its figures are `cargo bench -p contacts-e2e --bench soak`).

use contacts_e2e::soak::{self, Plan};
use contacts_e2e::webhooks;
use contacts_e2e::App;

#[test]
fn concurrent_events_with_redeliveries_are_each_stored_once() {
    let mut app = App::start_with(&webhooks::SECRETS);
    let plan = Plan {
        events: 600,
        identities: 120,
        senders: 6,
        redeliver_every: 10,
        kills: 0,
    };
    let report = soak::run(&mut app, &plan);
    assert_eq!(report.deliveries, 600 + 60);
    assert_eq!(report.retried, 0);
}

#[test]
fn a_host_killed_mid_load_loses_and_doubles_no_event() {
    let mut app = App::start_in_child_with(&webhooks::SECRETS);
    let plan = Plan {
        events: 600,
        identities: 120,
        senders: 6,
        redeliver_every: 10,
        kills: 1,
    };
    let report = soak::run(&mut app, &plan);
    assert_eq!(report.kills, 1);
    assert_eq!(report.deliveries, 600 + 60);
}
