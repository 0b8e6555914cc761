//! One client holding more half-sent requests than the node's whole
//! connection cap (issue #17.2): the real binary, a crowd of slow
//! connections from 127.0.0.2, and a searcher from 127.0.0.3 whose every
//! request must succeed meanwhile; the machine's own address (127.0.0.1,
//! where the reverse proxy and a local admin connect) gets in too.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{content, data_dir, init, Server};
use seednet_node::http::connections::{CONNECTIONS_MAX, CONNECTIONS_PER_ADDRESS_MAX};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Slow connections opened by the crowd: more than the node's whole cap.
const CROWD: usize = CONNECTIONS_MAX + 76;
/// Searches the second client makes while the crowd holds on.
const SEARCHES: usize = 40;

/// A connection from `from` that sends half a request and then nothing.
async fn slow_connection(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    let mut stream = socket.connect(to).await?;
    stream
        .write_all(b"GET /api/v1/search?q=x HTTP/1.1\r\nHost: seednet\r\n")
        .await?;
    Ok(stream)
}

/// Whether the node closed `stream` (EOF or reset) within a short wait.
async fn closed_by_node(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut byte)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crowd_of_slow_connections_from_one_address_does_not_keep_others_out() {
    let temp = tempfile::tempdir().unwrap();
    let dir = data_dir(&temp);
    let tokens = init(&dir);
    let server = Server::start(&dir);
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let http = reqwest::Client::new();
    let published = http
        .post(server.url("/api/v1/records"))
        .bearer_auth(&tokens.editor_token)
        .json(&content("Laboratorio di quartiere"))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 201);

    let mut crowd = Vec::with_capacity(CROWD);
    for _ in 0..CROWD {
        crowd.push(slow_connection("127.0.0.2", addr).await.expect("connect"));
    }
    // The first ones are held; beyond its share, the node closes the
    // crowd's connections at accept instead of letting them fill the cap.
    let mut closed = 0;
    for stream in crowd.iter_mut().skip(CONNECTIONS_PER_ADDRESS_MAX).take(20) {
        closed += usize::from(closed_by_node(stream).await);
    }
    assert_eq!(
        closed, 20,
        "connections past the address's share are closed"
    );
    assert!(
        !closed_by_node(&mut crowd[0]).await,
        "the share itself is held (until its header timeout)"
    );

    let searcher = reqwest::Client::builder()
        .local_address("127.0.0.3".parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for n in 0..SEARCHES {
        let answer = searcher
            .get(server.url("/api/v1/search?q=laboratorio"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("search {n} failed while the crowd holds on: {e}"));
        assert_eq!(answer.status(), 200, "search {n}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["total"], 1);
    }
    let status = http
        .get(server.url("/api/v1/status"))
        .bearer_auth(&tokens.admin_token)
        .send()
        .await
        .expect("the machine's own address gets in");
    assert_eq!(status.status(), 200);

    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused: u64 = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix("seednet_connections_refused_total{reason=\"address_full\"} ")
        })
        .expect("the refusals are counted")
        .parse()
        .unwrap();
    assert!(
        refused >= (CROWD - CONNECTIONS_PER_ADDRESS_MAX) as u64,
        "{refused} refused"
    );
    drop(crowd);
    server.stop();
}
