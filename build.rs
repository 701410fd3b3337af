//! Link the `vane` binary as a position-dependent executable on Linux.
//!
//! A position-independent `vane` spends ~1.6 ms of every start applying
//! ~141,000 relocations (DataFusion's vtables and tables of functions) and
//! copying the pages they touch; linked at a fixed address it starts in
//! ~1.4 ms instead of ~3 ms (docs/benchmarks.md). Shared libraries, heap and
//! stack are still placed at random addresses.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
