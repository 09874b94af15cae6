//! Test helper for the kill test: appends messages to the store at `argv[1]` forever, printing
//! each id only after its transaction committed. The test kills it with SIGKILL at random moments.

use std::io::Write;

use migru_core::event::{Body, Record};
use migru_core::store::{Appended, Store};

fn main() {
    let path = std::env::args().nth(1).expect("usage: append-loop DB");
    let store = Store::open(&path).expect("open store");
    let mut stdout = std::io::stdout().lock();
    let pid = std::process::id();
    for n in 0u64.. {
        let text = format!("kill test message {n} from {pid}");
        let record = Record::new(migru_core::companion::now_local(), Body::Message { text });
        match store.append(&record).expect("append") {
            Appended::Stored { id, .. } => {
                writeln!(stdout, "{id}").expect("stdout");
                stdout.flush().expect("flush");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
