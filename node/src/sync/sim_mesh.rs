//! A deterministic simulation of several nodes, each pulling from each of its
//! peers through one sync machine per peer, with relay.
//!
//! Why: the network properties — a full mesh converges to the same
//! versions, a chain A-B-C brings A's records to C through B, the
//! `direct-only` policy stops relayed records, a revoked link stops flowing —
//! follow from the per-peer machine, the change log (which includes relayed
//! versions under new local sequence numbers) and the admission rule together.
//! This checks them together under drops, delays, partitions and crashes,
//! reproducibly per seed, before real nodes exist to test them over HTTP.
//!
//! Each node publishes its own records (new records and new versions), applies
//! what it pulls (newer versions only, admission by `policy::admit`), appends
//! every applied version to its own change log (dropping the superseded entry),
//! and notifies its peers after each commit.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use seednet_protocol::federation::wire::PageSummary;
use seednet_protocol::testing::test_key;
use seednet_protocol::NodeId;

use super::machine::{Action, Event, FetchError, PeerSync, RequestId, SyncConfig};
use super::policy::{admit, Admission, RelayPolicy};
use super::rng::SeededRng;

type NodeNo = usize;
/// (origin node, record number).
type Key = (NodeNo, u32);
type Page = Vec<(Key, u64)>;

struct Node {
    id: NodeId,
    policy: RelayPolicy,
    peers: Vec<NodeNo>,
    store: HashMap<Key, u64>,
    log: BTreeMap<u64, (Key, u64)>,
    log_seq_of: HashMap<Key, u64>,
    head_seq: u64,
    own_records: u32,
    cursors: HashMap<NodeNo, u64>,
    machines: HashMap<NodeNo, PeerSync>,
    up: bool,
    incarnation: u64,
    pages: HashMap<(NodeNo, RequestId), Page>,
    applying: HashMap<(NodeNo, RequestId), Page>,
    timers: HashMap<NodeNo, u64>,
}

impl Node {
    /// Applies one version if newer; returns whether it changed anything.
    fn apply(&mut self, key: Key, version: u64) -> bool {
        let stored = self.store.get(&key).copied().unwrap_or(0);
        if version <= stored {
            return false;
        }
        self.store.insert(key, version);
        self.head_seq += 1;
        if let Some(old) = self.log_seq_of.insert(key, self.head_seq) {
            self.log.remove(&old);
        }
        self.log.insert(self.head_seq, (key, version));
        true
    }

    fn serve(&self, since: u64, limit: usize) -> (Page, PageSummary) {
        super::sim::serve_log(&self.log, self.head_seq, since, limit)
    }
}

#[derive(Debug)]
enum Ev {
    Publish(NodeNo),
    Fetch {
        server: NodeNo,
        client: NodeNo,
        incarnation: u64,
        request: RequestId,
        since: u64,
        limit: usize,
    },
    Deliver {
        node: NodeNo,
        peer: NodeNo,
        incarnation: u64,
        event: Event,
        page: Option<Page>,
    },
    Notify {
        node: NodeNo,
        peer: NodeNo,
        head_seq: u64,
    },
    ApplyDone {
        node: NodeNo,
        peer: NodeNo,
        incarnation: u64,
        request: RequestId,
    },
    PersistDone {
        node: NodeNo,
        peer: NodeNo,
        incarnation: u64,
        cursor: u64,
    },
    Wake {
        node: NodeNo,
        peer: NodeNo,
        incarnation: u64,
        /// Only the latest requested wake-up of a machine fires.
        timer: u64,
    },
    Crash(NodeNo),
    Restart(NodeNo),
}

struct Mesh {
    now_ms: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: Vec<Option<Ev>>,
    order: u64,
    rng: SeededRng,
    nodes: Vec<Node>,
    config: SyncConfig,
    faults_until_ms: u64,
    writes_until_ms: u64,
    drop_per_thousand: u64,
    partitions: Vec<(NodeNo, u64, u64)>,
}

impl Mesh {
    /// Nodes `0..count` with the given links (both directions pull).
    fn new(seed: u64, count: usize, links: &[(NodeNo, NodeNo)], policies: &[RelayPolicy]) -> Self {
        let mut rng = SeededRng::new(seed);
        let config = SyncConfig {
            page_records: rng.range(2, 20) as usize,
            ..SyncConfig::default()
        };
        let faults_until_ms = 20 * 60_000;
        let mut nodes: Vec<Node> = (0..count)
            .map(|n| Node {
                id: test_key(n as u8 + 1).node_id(),
                policy: policies[n],
                peers: Vec::new(),
                store: HashMap::new(),
                log: BTreeMap::new(),
                log_seq_of: HashMap::new(),
                head_seq: 0,
                own_records: 0,
                cursors: HashMap::new(),
                machines: HashMap::new(),
                up: true,
                incarnation: 0,
                pages: HashMap::new(),
                applying: HashMap::new(),
                timers: HashMap::new(),
            })
            .collect();
        for (a, b) in links {
            nodes[*a].peers.push(*b);
            nodes[*b].peers.push(*a);
        }
        for node in nodes.iter_mut() {
            for peer in node.peers.clone() {
                node.machines
                    .insert(peer, PeerSync::new(config, 0, true, rng.next_u64()));
                node.cursors.insert(peer, 0);
            }
        }
        let partitions = (0..rng.below(4))
            .map(|_| {
                let start = rng.below(faults_until_ms);
                (
                    rng.below(count as u64) as NodeNo,
                    start,
                    start + rng.range(10_000, 4 * 60_000),
                )
            })
            .collect();
        let mut mesh = Mesh {
            now_ms: 0,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            order: 0,
            drop_per_thousand: rng.below(100),
            rng,
            nodes,
            config,
            faults_until_ms,
            writes_until_ms: faults_until_ms,
            partitions,
        };
        for node in 0..count {
            mesh.schedule(0, Ev::Publish(node));
            for peer in mesh.nodes[node].peers.clone() {
                mesh.schedule(
                    0,
                    Ev::Wake {
                        node,
                        peer,
                        incarnation: 0,
                        timer: 0,
                    },
                );
            }
            for _ in 0..mesh.rng.below(3) {
                let at = mesh.rng.below(faults_until_ms);
                mesh.schedule(at, Ev::Crash(node));
            }
        }
        mesh
    }

    fn schedule(&mut self, at_ms: u64, event: Ev) {
        self.order += 1;
        self.events.push(Some(event));
        self.queue
            .push(Reverse((at_ms, self.order, self.events.len() - 1)));
    }

    /// A message between `from` and `to`: dropped while either is cut off
    /// or by chance during the fault period, else delayed.
    fn send(&mut self, from: NodeNo, to: NodeNo, event: Ev) {
        if self.now_ms < self.faults_until_ms {
            let cut_off = self.partitions.iter().any(|(node, start, end)| {
                (*node == from || *node == to) && (*start..*end).contains(&self.now_ms)
            });
            if cut_off || self.rng.chance(self.drop_per_thousand) {
                return;
            }
        }
        let delay = if self.now_ms < self.faults_until_ms && self.rng.chance(30) {
            self.rng.range(20_000, 60_000)
        } else {
            self.rng.range(1, 200)
        };
        self.schedule(self.now_ms + delay, event);
    }

    fn run_until(&mut self, end_ms: u64) {
        while let Some(Reverse((at_ms, _, index))) = self.queue.peek().copied() {
            if at_ms > end_ms {
                break;
            }
            self.queue.pop();
            self.now_ms = at_ms;
            let event = self.events[index].take().expect("delivered once");
            self.step(event);
        }
        self.now_ms = end_ms;
    }

    fn notify_peers(&mut self, node: NodeNo) {
        let head_seq = self.nodes[node].head_seq;
        for peer in self.nodes[node].peers.clone() {
            self.send(
                node,
                peer,
                Ev::Notify {
                    node: peer,
                    peer: node,
                    head_seq,
                },
            );
        }
    }

    fn live(&self, node: NodeNo, incarnation: u64) -> bool {
        self.nodes[node].up && self.nodes[node].incarnation == incarnation
    }

    fn step(&mut self, event: Ev) {
        match event {
            Ev::Publish(node) => {
                if self.nodes[node].up {
                    let n = &mut self.nodes[node];
                    let record = if n.own_records == 0 || self.rng.chance(400) {
                        n.own_records += 1;
                        n.own_records - 1
                    } else {
                        self.rng.below(u64::from(n.own_records)) as u32
                    };
                    let version = n.store.get(&(node, record)).copied().unwrap_or(0) + 1;
                    n.apply((node, record), version);
                    self.notify_peers(node);
                }
                if self.now_ms < self.writes_until_ms {
                    let next = self.now_ms + self.rng.range(100, 20_000);
                    self.schedule(next, Ev::Publish(node));
                }
            }
            Ev::Fetch {
                server,
                client,
                incarnation,
                request,
                since,
                limit,
            } => {
                if !self.nodes[server].up {
                    let event = Event::FetchFailed {
                        request,
                        error: FetchError::Unreachable("connection refused".into()),
                    };
                    let delay = self.rng.range(1, 50);
                    self.schedule(
                        self.now_ms + delay,
                        Ev::Deliver {
                            node: client,
                            peer: server,
                            incarnation,
                            event,
                            page: None,
                        },
                    );
                    return;
                }
                let (records, summary) = self.nodes[server].serve(since, limit);
                self.send(
                    server,
                    client,
                    Ev::Deliver {
                        node: client,
                        peer: server,
                        incarnation,
                        event: Event::PageFetched {
                            request,
                            page: summary,
                        },
                        page: Some(records),
                    },
                );
            }
            Ev::Deliver {
                node,
                peer,
                incarnation,
                event,
                page,
            } => {
                if !self.live(node, incarnation) {
                    return;
                }
                if let (Event::PageFetched { request, .. }, Some(records)) = (&event, page) {
                    self.nodes[node].pages.insert((peer, *request), records);
                }
                self.feed(node, peer, event);
            }
            Ev::Notify {
                node,
                peer,
                head_seq,
            } => {
                if self.nodes[node].up {
                    self.feed(node, peer, Event::NotifyReceived { head_seq });
                }
            }
            Ev::ApplyDone {
                node,
                peer,
                incarnation,
                request,
            } => {
                if !self.live(node, incarnation) {
                    return;
                }
                let records = self.nodes[node]
                    .applying
                    .remove(&(peer, request))
                    .expect("page under apply");
                let peer_id = self.nodes[peer].id;
                let mut changed = false;
                for ((origin, record), version) in records {
                    let n = &self.nodes[node];
                    let origin_id = self.nodes[origin].id;
                    let admission = admit(&origin_id, &peer_id, &n.id, n.policy, &BTreeSet::new());
                    if admission == Admission::Admit {
                        changed |= self.nodes[node].apply((origin, record), version);
                    }
                }
                if changed {
                    self.notify_peers(node);
                }
                self.feed(node, peer, Event::BatchApplied { request });
            }
            Ev::PersistDone {
                node,
                peer,
                incarnation,
                cursor,
            } => {
                if !self.live(node, incarnation) {
                    return;
                }
                let stored = self.nodes[node].cursors[&peer];
                assert!(
                    cursor > stored,
                    "cursor of {node} for {peer}: {stored} then {cursor}"
                );
                self.check_cursor(node, peer, cursor);
                self.nodes[node].cursors.insert(peer, cursor);
            }
            Ev::Wake {
                node,
                peer,
                incarnation,
                timer,
            } => {
                let current = self.nodes[node].timers.get(&peer).copied().unwrap_or(0);
                if self.live(node, incarnation) && timer == current {
                    self.feed(node, peer, Event::Tick);
                }
            }
            Ev::Crash(node) => {
                let n = &mut self.nodes[node];
                if n.up {
                    n.up = false;
                    n.incarnation += 1;
                    n.machines.clear();
                    n.pages.clear();
                    n.applying.clear();
                    let downtime = self.rng.range(1_000, 5 * 60_000);
                    self.schedule(self.now_ms + downtime, Ev::Restart(node));
                }
            }
            Ev::Restart(node) => {
                let incarnation = self.nodes[node].incarnation;
                self.nodes[node].up = true;
                for peer in self.nodes[node].peers.clone() {
                    let cursor = self.nodes[node].cursors[&peer];
                    let machine = PeerSync::new(self.config, cursor, true, self.rng.next_u64());
                    self.nodes[node].machines.insert(peer, machine);
                    let timer = self.next_timer(node, peer);
                    self.schedule(
                        self.now_ms,
                        Ev::Wake {
                            node,
                            peer,
                            incarnation,
                            timer,
                        },
                    );
                }
            }
        }
    }

    /// A stored cursor for `peer` covers every current entry of the peer's log
    /// at or below it that this node admits.
    fn check_cursor(&self, node: NodeNo, peer: NodeNo, cursor: u64) {
        let n = &self.nodes[node];
        for ((origin, record), version) in self.nodes[peer].log.range(..=cursor).map(|(_, e)| *e) {
            let admission = admit(
                &self.nodes[origin].id,
                &self.nodes[peer].id,
                &n.id,
                n.policy,
                &BTreeSet::new(),
            );
            if admission == Admission::Admit {
                let stored = n.store.get(&(origin, record)).copied().unwrap_or(0);
                assert!(
                    stored >= version,
                    "node {node} stored cursor {cursor} for {peer} without ({origin},{record}) v{version}"
                );
            }
        }
    }

    fn next_timer(&mut self, node: NodeNo, peer: NodeNo) -> u64 {
        let timer = self.nodes[node].timers.entry(peer).or_insert(0);
        *timer += 1;
        *timer
    }

    fn feed(&mut self, node: NodeNo, peer: NodeNo, event: Event) {
        let now_ms = self.now_ms;
        let Some(machine) = self.nodes[node].machines.get_mut(&peer) else {
            return;
        };
        let actions = machine.handle(now_ms, event);
        let incarnation = self.nodes[node].incarnation;
        for action in actions {
            match action {
                Action::FetchPage {
                    request,
                    since,
                    limit,
                } => self.send(
                    node,
                    peer,
                    Ev::Fetch {
                        server: peer,
                        client: node,
                        incarnation,
                        request,
                        since,
                        limit,
                    },
                ),
                Action::ApplyBatch { request } => {
                    let page = self.nodes[node]
                        .pages
                        .remove(&(peer, request))
                        .expect("fetched page");
                    self.nodes[node].applying.insert((peer, request), page);
                    let delay = self.rng.range(1, 100);
                    self.schedule(
                        now_ms + delay,
                        Ev::ApplyDone {
                            node,
                            peer,
                            incarnation,
                            request,
                        },
                    );
                }
                Action::PersistCursor { cursor } => self.schedule(
                    now_ms + 10,
                    Ev::PersistDone {
                        node,
                        peer,
                        incarnation,
                        cursor,
                    },
                ),
                Action::ScheduleWake { at_ms } => {
                    let timer = self.next_timer(node, peer);
                    self.schedule(
                        at_ms.max(now_ms),
                        Ev::Wake {
                            node,
                            peer,
                            incarnation,
                            timer,
                        },
                    );
                }
                Action::Cancel { request } => {
                    self.nodes[node].pages.remove(&(peer, request));
                }
                Action::ReportError { .. } | Action::RequestRepair => {}
            }
        }
    }

    /// Runs past the faults until quiet.
    fn settle(&mut self) {
        let end = self.faults_until_ms + 20 * 60_000;
        self.run_until(end);
        assert!(self.nodes.iter().all(|n| n.up), "every node restarted");
    }

    /// The newest version each origin published of each of its records.
    fn published(&self) -> HashMap<Key, u64> {
        let mut published = HashMap::new();
        for (number, node) in self.nodes.iter().enumerate() {
            for (key, version) in &node.store {
                if key.0 == number {
                    published.insert(*key, *version);
                }
            }
        }
        published
    }
}

const ALL: RelayPolicy = RelayPolicy::All;

#[test]
fn full_mesh_of_four_converges_to_the_same_versions() {
    for seed in 0..40 {
        let links = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];
        let mut mesh = Mesh::new(seed, 4, &links, &[ALL; 4]);
        mesh.settle();
        let published = mesh.published();
        assert!(published.len() > 40, "seed {seed}: records were published");
        for (number, node) in mesh.nodes.iter().enumerate() {
            assert_eq!(node.store, published, "seed {seed}: node {number} differs");
        }
    }
}

#[test]
fn chain_relays_records_to_the_far_end() {
    for seed in 0..60 {
        // 0 - 1 - 2: node 2 is not linked to node 0.
        let mut mesh = Mesh::new(1_000 + seed, 3, &[(0, 1), (1, 2)], &[ALL; 3]);
        mesh.settle();
        let published = mesh.published();
        assert!(published.keys().any(|(origin, _)| *origin == 0));
        for (number, node) in mesh.nodes.iter().enumerate() {
            assert_eq!(node.store, published, "seed {seed}: node {number} differs");
        }
    }
}

#[test]
fn direct_only_policy_refuses_relayed_records() {
    for seed in 0..30 {
        let policies = [ALL, ALL, RelayPolicy::DirectOnly];
        let mut mesh = Mesh::new(2_000 + seed, 3, &[(0, 1), (1, 2)], &policies);
        mesh.settle();
        let published = mesh.published();
        let far = &mesh.nodes[2];
        assert!(
            far.store.keys().all(|(origin, _)| *origin != 0),
            "seed {seed}: node 2 accepted a relayed record of node 0"
        );
        for (key, version) in &published {
            if key.0 != 0 {
                assert_eq!(far.store.get(key), Some(version), "seed {seed}: {key:?}");
            }
        }
        // Node 0 still gets node 2's records through node 1 (its policy is all).
        assert_eq!(mesh.nodes[0].store, published, "seed {seed}");
    }
}
