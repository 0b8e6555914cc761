//! Reconciliation cost: round trips, bytes each way and time for two sets of
//! 100,000 record versions differing by 1, 10, 100, 1,000 and 10,000 items,
//! with the default tuning, then the same for other tunings (which is how
//! the defaults were chosen). Prints one line per case (copied into
//! `docs/BENCHMARKS.md`) and asserts the costs that the design promises:
//! a handful of round trips and bytes that grow with the difference, not with
//! the store. Run with `cargo bench -p seednet-protocol --bench reconcile`.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use seednet_protocol::federation::reconcile::{
    respond, Item, ItemKey, ReconcileConfig, Reconciler,
};
use seednet_protocol::VersionHash;

const STORE_ITEMS: usize = 100_000;

fn random_item(rng: &mut StdRng) -> Item {
    Item::new(ItemKey::new(rng.gen(), 1), VersionHash(rng.gen()))
}

struct Cost {
    round_trips: usize,
    bytes_sent: usize,
    bytes_received: usize,
    found: usize,
    micros: u128,
}

fn measure(ours: &[Item], theirs: &[Item], config: ReconcileConfig) -> Cost {
    let started = Instant::now();
    let mut reconciler = Reconciler::new(config);
    let mut message = reconciler.initiate(ours).unwrap();
    let (mut sent, mut received, mut round_trips) = (0, 0, 0);
    loop {
        sent += message.len();
        let reply = respond(&config, theirs, &message).unwrap();
        received += reply.len();
        round_trips += 1;
        match reconciler.reconcile(ours, &reply).unwrap() {
            Some(next) => message = next,
            None => break,
        }
    }
    let micros = started.elapsed().as_micros();
    let outcome = reconciler.finish();
    Cost {
        round_trips,
        bytes_sent: sent,
        bytes_received: received,
        found: outcome.have.len() + outcome.need.len(),
        micros,
    }
}

/// Two sorted sets of `STORE_ITEMS` items differing by `difference` items.
fn sets(seed: u64, difference: usize) -> (Vec<Item>, Vec<Item>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let shared: Vec<Item> = (0..STORE_ITEMS - difference)
        .map(|_| random_item(&mut rng))
        .collect();
    let mut ours = shared.clone();
    let mut theirs = shared;
    for index in 0..difference {
        let item = random_item(&mut rng);
        if index % 2 == 0 {
            theirs.push(item);
        } else {
            ours.push(item);
        }
    }
    ours.sort();
    theirs.sort();
    (ours, theirs)
}

fn main() {
    println!("| difference | round trips | bytes sent | bytes received | time (ms) |");
    println!("|---:|---:|---:|---:|---:|");
    for (seed, difference) in [(1u64, 1usize), (2, 10), (3, 100), (4, 1_000), (5, 10_000)] {
        let (ours, theirs) = sets(seed, difference);
        let cost = measure(&ours, &theirs, ReconcileConfig::default());
        println!(
            "| {difference} | {} | {} | {} | {:.1} |",
            cost.round_trips,
            cost.bytes_sent,
            cost.bytes_received,
            cost.micros as f64 / 1000.0
        );
        assert_eq!(cost.found, difference, "exact difference");
        // The promises of the design, checked where speed is measured.
        if difference <= 10 {
            assert!(
                cost.round_trips <= 4,
                "few round trips for small differences"
            );
            assert!(
                cost.bytes_sent + cost.bytes_received <= 8 * 1024 * difference.max(1),
                "bytes grow with the difference"
            );
        }
        let per_item = (cost.bytes_sent + cost.bytes_received) / difference;
        assert!(
            per_item <= 4 * 1024,
            "at most 4 KiB exchanged per differing item"
        );
    }

    println!();
    println!("| branching | list threshold | difference | round trips | bytes total |");
    println!("|---:|---:|---:|---:|---:|");
    for (branching, list_threshold) in [(8, 8), (8, 16), (16, 16), (16, 32), (32, 32), (4, 8)] {
        for (seed, difference) in [(1u64, 1usize), (3, 100), (4, 1_000), (5, 10_000)] {
            let (ours, theirs) = sets(seed, difference);
            let config = ReconcileConfig {
                branching,
                list_threshold,
                ..ReconcileConfig::default()
            };
            let cost = measure(&ours, &theirs, config);
            assert_eq!(cost.found, difference, "exact difference");
            println!(
                "| {branching} | {list_threshold} | {difference} | {} | {} |",
                cost.round_trips,
                cost.bytes_sent + cost.bytes_received
            );
        }
    }
}
