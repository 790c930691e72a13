//! `sqlx::migrate!` embeds `migrations/` at compile time but cannot tell cargo to rebuild when a
//! migration file is added there; this does.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
