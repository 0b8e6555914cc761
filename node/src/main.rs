//! The `seednet` binary (under construction: see README.md, "Status").

fn main() {
    println!(
        "seednet {}: the node is under construction; the protocol crate is ready (cargo test -p seednet-protocol)",
        env!("CARGO_PKG_VERSION")
    );
}
