//! The webhook soak at full size (issue 17), twice through the host — undisturbed, then with
//! the host SIGKILLed at random moments and restarted — and once natively, each checked for
//! exactly-once (`contacts_e2e::soak`). Prints events/s and p50/p99/max.
//!
//! `cargo bench -p contacts-e2e --bench soak` (SOAK_EVENTS, SOAK_IDENTITIES, SOAK_SENDERS,
//! SOAK_KILLS to change the plan; defaults 10,000 / 1,000 / 8 / 3).

use contacts_e2e::bench::{ms, Figures};
use contacts_e2e::soak::{self, Plan, Report};
use contacts_e2e::{webhooks, App};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn row(case: &str, f: &Figures, max: Option<std::time::Duration>, extra: &str) {
    println!(
        "| {case} | {:.0} | {} | {} | {} | {extra} |",
        f.per_sec,
        ms(f.p50),
        ms(f.p99),
        max.map_or("–".into(), ms),
    );
}

fn host_row(case: &str, r: &Report) {
    row(
        case,
        &r.figures,
        Some(r.max),
        &format!(
            "{} deliveries, {} kills, {} retried attempts",
            r.deliveries, r.kills, r.retried
        ),
    );
}

fn main() {
    let mut plan = Plan {
        events: env("SOAK_EVENTS", 10_000),
        identities: env("SOAK_IDENTITIES", 1_000),
        senders: env("SOAK_SENDERS", 8),
        redeliver_every: 10,
        kills: 0,
    };
    println!(
        "soak: {} events from {} identities, {} senders, every 10th redelivered",
        plan.events, plan.identities, plan.senders
    );
    contacts_e2e::bench::print_host_settings(spin_host::HostMode::Spin);
    println!("| case | events/s | p50 ms | p99 ms | max ms | notes |");
    println!("| --- | ---: | ---: | ---: | ---: | --- |");

    let mut app = App::start_in_child_with(&webhooks::SECRETS);
    host_row("host, undisturbed", &soak::run(&mut app, &plan));
    drop(app);

    plan.kills = env("SOAK_KILLS", 3);
    let mut app = App::start_in_child_with(&webhooks::SECRETS);
    host_row("host, SIGKILLed and restarted", &soak::run(&mut app, &plan));
    drop(app);

    plan.kills = 0;
    let dir = tempfile::tempdir().expect("native dir");
    let native = soak::run_native(dir.path(), &plan);
    row(
        "native (fresh connection per delivery)",
        &native,
        None,
        "same deliveries, same threads",
    );
    println!("every run: one contact per identity, one association per conversation, every event once, integrity_check ok");
}
