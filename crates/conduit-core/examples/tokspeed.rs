//! How long token counting takes on a Claude-Code-sized text.
#![allow(clippy::print_stdout)]
fn main() {
    let text = "function returns the value of config when error file path reads writes struct field async stream token request ".repeat(900);
    let t = std::time::Instant::now();
    let n = conduit_core::tokens::raw_count("warm up");
    println!("load: {:?} ({n})", t.elapsed());
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let n = conduit_core::tokens::raw_count(&text);
        println!("{} bytes -> {n} tokens in {:?}", text.len(), t.elapsed());
    }
}
