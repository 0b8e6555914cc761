//! A tiny model file written from the format description (README), so the
//! loader and the whole encoder can be tested without the real 72 MB model:
//! one layer, the real width of 384, random 4-bit weights, 16 positions
//! (windows of 14 pieces) and a vocabulary of a few dozen pieces.

use crate::{Model, TextKind, EMBEDDING_DIM};

const POSITIONS: usize = 16;
const FFN: usize = 64;

struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn float(&mut self, scale: f32) -> f32 {
        ((self.next() % 2001) as f32 / 1000.0 - 1.0) * scale
    }
}

fn pieces() -> Vec<(&'static str, f32)> {
    let mut p = vec![("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)];
    p.extend([
        ("▁", -3.0),
        ("▁query", -5.0),
        ("▁passage", -5.0),
        (":", -4.0),
        ("▁co", -6.0),
        ("-", -4.0),
        ("design", -7.0),
        ("▁bilancio", -8.0),
        ("▁partecipativo", -8.0),
        ("▁a", -4.5),
        ("a", -5.0),
        ("e", -5.0),
        ("i", -5.0),
        ("o", -5.0),
        ("n", -5.5),
        ("s", -5.5),
        ("t", -5.5),
        ("r", -5.5),
        ("▁pa", -6.5),
        ("rt", -6.5),
    ]);
    p
}

/// Bytes of a valid toy model file.
pub(crate) fn model_file() -> Vec<u8> {
    let mut noise = Noise(0x5eed_0fe5);
    let h = EMBEDDING_DIM;
    let pieces = pieces();
    let vocab = pieces.len() + 3; // more rows than pieces, like the real file

    let mut f = Vec::new();
    f.extend_from_slice(b"E5S1");
    f.extend_from_slice(&1u32.to_le_bytes());
    for v in [h, 1, 12, FFN, vocab, POSITIONS, 2] {
        f.extend_from_slice(&(v as i32).to_le_bytes());
    }
    f.extend_from_slice(&1e-12f32.to_le_bytes());
    f.extend_from_slice(&32i32.to_le_bytes());

    // Tokenizer.
    f.extend_from_slice(&(pieces.len() as i32).to_le_bytes());
    for id in [0i32, 2, 1, 3] {
        f.extend_from_slice(&id.to_le_bytes());
    }
    let blob: Vec<u8> = pieces.iter().flat_map(|(p, _)| p.bytes()).collect();
    f.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    let mut at = 0u32;
    f.extend_from_slice(&at.to_le_bytes());
    for (p, _) in &pieces {
        at += p.len() as u32;
        f.extend_from_slice(&at.to_le_bytes());
    }
    for (_, s) in &pieces {
        f.extend_from_slice(&s.to_le_bytes());
    }
    f.extend_from_slice(&blob);
    // Normalisation: tab -> space, BEL -> nothing.
    let mut table = Vec::new();
    table.extend_from_slice(&7u32.to_le_bytes());
    table.push(0);
    table.extend_from_slice(&9u32.to_le_bytes());
    table.push(1);
    table.extend_from_slice(&32u32.to_le_bytes());
    f.extend_from_slice(&2i32.to_le_bytes());
    f.extend_from_slice(&(table.len() as u32).to_le_bytes());
    f.extend_from_slice(&table);

    // Tensors.
    let mut tensors: Vec<(String, u8, usize, Vec<u8>)> = Vec::new();
    let mut q4 = |name: &str, rows: usize, cols: usize, noise: &mut Noise| {
        let mut data = Vec::new();
        for _ in 0..rows * cols / 32 {
            // Half-precision scales around 2^-5..2^-4 (exponent 10..=11).
            let half: u16 = ((10 + noise.next() % 2) as u16) << 10 | (noise.next() % 1024) as u16;
            data.extend_from_slice(&half.to_le_bytes());
            data.extend((0..16).map(|_| noise.next() as u8));
        }
        tensors.push((name.to_string(), 1, rows * cols, data));
    };
    q4("emb.word", vocab, h, &mut noise);
    q4("l0.q.w", h, h, &mut noise);
    q4("l0.k.w", h, h, &mut noise);
    q4("l0.v.w", h, h, &mut noise);
    q4("l0.ao.w", h, h, &mut noise);
    q4("l0.fi.w", FFN, h, &mut noise);
    q4("l0.fo.w", h, FFN, &mut noise);
    let floats = |name: &str, n: usize, f: &mut dyn FnMut() -> f32| {
        let data: Vec<u8> = (0..n).flat_map(|_| f().to_le_bytes()).collect();
        (name.to_string(), 0u8, n, data)
    };
    let small = |n: &mut Noise| n.float(0.1);
    let mut rnd = || small(&mut noise);
    tensors.push(floats("emb.pos", POSITIONS * h, &mut rnd));
    tensors.push(floats("emb.type", 2 * h, &mut rnd));
    for b in ["l0.q.b", "l0.k.b", "l0.v.b", "l0.ao.b", "l0.fo.b"] {
        tensors.push(floats(b, h, &mut rnd));
    }
    tensors.push(floats("l0.fi.b", FFN, &mut rnd));
    for ln in ["emb.ln", "l0.aln", "l0.oln"] {
        tensors.push(floats(&format!("{ln}.w"), h, &mut || 1.0));
        tensors.push(floats(&format!("{ln}.b"), h, &mut || 0.0));
    }

    let dir_len: usize = 4 + tensors
        .iter()
        .map(|t| 2 + t.0.len() + 1 + 4 + 8 + 8)
        .sum::<usize>();
    let mut offset = f.len() + dir_len;
    f.extend_from_slice(&(tensors.len() as i32).to_le_bytes());
    for (name, dtype, count, data) in &tensors {
        f.extend_from_slice(&(name.len() as u16).to_le_bytes());
        f.extend_from_slice(name.as_bytes());
        f.push(*dtype);
        f.extend_from_slice(&(*count as u32).to_le_bytes());
        f.extend_from_slice(&(offset as u64).to_le_bytes());
        f.extend_from_slice(&(data.len() as u64).to_le_bytes());
        offset += data.len();
    }
    for (_, _, _, data) in &tensors {
        f.extend_from_slice(data);
    }
    f
}

fn toy() -> Model {
    Model::from_bytes(model_file()).expect("the toy model loads")
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[test]
fn toy_model_loads_and_tokenizes() {
    let m = toy();
    assert_eq!(m.window_tokens(), POSITIONS - 2);
    let t = m.tokenizer();
    assert_eq!(t.encode("co-design"), vec![8, 9, 10]);
    // "passage: " + "" = ▁passage, ":", ▁ -> 3 pieces + <s> + </s>.
    assert_eq!(m.token_count("", TextKind::Passage), 5);
    assert_eq!(m.token_count("\t\u{7}", TextKind::Query), 5);
}

#[test]
fn embeddings_have_unit_norm() {
    let m = toy();
    let texts = ["", "co-design", "bilancio partecipativo", "zzz 😀 ακ"];
    for kind in [TextKind::Query, TextKind::Passage] {
        for v in m.embed(&texts, kind, 1) {
            assert!((norm(&v) - 1.0).abs() < 1e-5, "norm {}", norm(&v));
            assert!(v.iter().all(|x| x.is_finite()));
        }
    }
}

#[test]
fn results_do_not_depend_on_threads_or_batching() {
    let m = toy();
    let long = "bilancio partecipativo co-design ".repeat(9);
    let texts = [
        "co-design",
        long.as_str(),
        "",
        "a a a a a a a a a a a a a a a a a a a a",
    ];
    assert!(m.token_count(&long, TextKind::Passage) > POSITIONS);
    let one = m.embed(&texts, TextKind::Passage, 1);
    for threads in [0, 2, 3, 8] {
        assert_eq!(
            m.embed(&texts, TextKind::Passage, threads),
            one,
            "threads {threads}"
        );
    }
    for (t, want) in texts.iter().zip(&one) {
        assert_eq!(&m.embed(&[t], TextKind::Passage, 2)[0], want);
    }
    assert!(m.embed(&[], TextKind::Passage, 2).is_empty());
}

#[test]
fn a_long_text_is_the_weighted_mean_of_its_windows() {
    use crate::model::{Batch, ForwardScratch};
    let m = toy();
    let win = m.window_tokens();
    // 2.5 windows of pieces.
    let text = "co-design a ".repeat(win * 5 / 8);
    let pieces = m.tokenizer().encode(&format!("passage: {text}"));
    assert!(
        pieces.len() > 2 * win && pieces.len() < 3 * win,
        "{}",
        pieces.len()
    );
    let whole = m.embed(&[text.as_str()], TextKind::Passage, 1)[0];

    // The same by hand: windows of `win` pieces, each <s> .. </s>, mean
    // pooled, averaged with weights = piece counts, normalised.
    let specials = m.tokenizer().specials();
    let mut batch = Batch::default();
    for chunk in pieces.chunks(win) {
        batch.push_window(specials.bos, chunk, specials.eos);
    }
    let means = m.weights.forward(&batch, 1, &mut ForwardScratch::default());
    let mut want = [0f64; EMBEDDING_DIM];
    for (chunk, mean) in pieces.chunks(win).zip(&means) {
        for (w, v) in want.iter_mut().zip(mean) {
            *w += chunk.len() as f64 * *v as f64;
        }
    }
    let n = want.iter().map(|v| v * v).sum::<f64>().sqrt();
    for (got, want) in whole.iter().zip(&want) {
        assert!(
            (*got as f64 - want / n).abs() < 1e-6,
            "{got} vs {}",
            want / n
        );
    }
}

#[test]
fn portable_kernel_agrees_on_the_toy_model() {
    let mut m = toy();
    let texts = ["co-design", "bilancio partecipativo", ""];
    let detected = m.embed(&texts, TextKind::Query, 1);
    m.weights.kernel = crate::kernels::Kernel::Portable;
    let portable = m.embed(&texts, TextKind::Query, 1);
    for (a, b) in detected.iter().zip(&portable) {
        let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        assert!(cos > 0.9999, "cosine {cos}");
    }
}

#[test]
fn every_truncation_of_the_toy_file_is_an_error() {
    let bytes = model_file();
    let cuts = (0..3000)
        .chain((3000..bytes.len()).step_by(997))
        .chain([bytes.len() - 1]);
    for cut in cuts {
        match Model::from_bytes(bytes[..cut].to_vec()) {
            Err(crate::EmbedError::Truncated { .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn corrupt_headers_are_refused() {
    let good = model_file();
    let patch = |at: usize, v: i32| {
        let mut b = good.clone();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        Model::from_bytes(b).unwrap_err().to_string()
    };
    assert!(patch(4, 2).contains("version 2"));
    assert!(patch(8, 256).contains("expected 384"));
    assert!(patch(16, 7).contains("heads"));
    assert!(patch(12, -1).contains("layer count"));
    assert!(patch(40, 64).contains("block size"));
    // <unk> id (after piece count, <s>, </s>, <pad>) out of range.
    assert!(patch(60, 1000).contains("<unk>"));
}
