//! Fuzz target for the files a run reads back from its folder: checkpoint lines (the Monte
//! Carlo cells and the run logs of converge / reproduce / train) and run.json. Each input
//! line is tried as it is and sealed with a valid checksum (so the field parsers, not only the
//! checksum, see arbitrary text). A line either decodes or is ignored, never a panic; what
//! decodes must survive encode -> decode -> encode unchanged.
#![no_main]

use phocas::montecarlo::checkpoint;
use phocas::resume;

fn bits(r: &resume::Record) -> Vec<Vec<u64>> {
    r.iter()
        .map(|f| f.iter().map(|x| x.to_bits()).collect())
        .collect()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for raw in text.lines() {
        let sealed = resume::seal(raw);
        for line in [raw, sealed.trim_end()] {
            if let Some((key, cell)) = checkpoint::decode(line) {
                let once = checkpoint::encode(&key, &cell);
                let (k2, c2) = checkpoint::decode(once.trim_end()).expect("re-encoded cell");
                assert_eq!(checkpoint::encode(&k2, &c2), once, "cell line does not round-trip");
            }
            if let Some((key, record)) = resume::decode(line) {
                let once = resume::encode(&key, &record);
                let (k2, r2) = resume::decode(&once).expect("re-encoded record");
                assert_eq!(k2, key.replace(['\t', '\n'], " "));
                assert_eq!(bits(&r2), bits(&record), "record does not round-trip");
            }
        }
    }
    let _ = serde_json::from_str::<checkpoint::RunId>(text);
});
