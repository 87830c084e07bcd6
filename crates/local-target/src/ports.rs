//! Choosing the loopback ports the proxies and legs listen on, and keeping
//! the choice in `ports.json` so a restart uses the same ones.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::Path;

use crate::error::{io, Result};
use crate::state::{read_json, write_json, PortBook, Stored};

/// True when nothing listens on 127.0.0.1:`port` (we could bind it).
pub(crate) fn is_free(port: u16) -> bool {
    port != 0 && TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Where chosen ports come from: high, but below Linux's ephemeral range
/// (32768 and up), so the local end of some outgoing connection never holds
/// a port a leg or proxy needs to listen on again after a restart.
const CHOSEN: std::ops::Range<u16> = 20_000..32_000;

/// A port nothing listens on now and the book has not given out.
pub(crate) fn any_free(book: &PortBook) -> Result<u16> {
    for _ in 0..200 {
        let port = fastrand::u16(CHOSEN);
        if !book.is_taken(port) && is_free(port) {
            return Ok(port);
        }
    }
    // A crowded range: let the kernel pick one from anywhere.
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| io(format!("could not find a free port on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| io(format!("could not find a free port on 127.0.0.1: {e}")))?
        .port();
    if book.is_taken(port) {
        return Err(io("could not find a free port on 127.0.0.1"));
    }
    Ok(port)
}

/// The first free port from `start` upwards that the book has not given out.
pub(crate) fn free_from(start: u16, book: &PortBook) -> Option<u16> {
    (start..=start.saturating_add(200)).find(|p| !book.is_taken(*p) && is_free(*p))
}

/// Reads `ports.json`. A damaged book is replaced by an empty one (ports are
/// then chosen afresh), and the reason is returned for the log.
pub(crate) fn load(path: &Path) -> (PortBook, Option<String>) {
    match read_json::<PortBook>(path) {
        Stored::Found(book) => (book, None),
        Stored::Missing => (PortBook::default(), None),
        Stored::Unreadable(why) => (PortBook::default(), Some(why)),
    }
}

/// The port the book holds for `name`, choosing and recording one if none is.
/// `preferred` is tried first (the configured proxy port).
pub(crate) fn assign(path: &Path, name: &str, preferred: Option<u16>) -> Result<u16> {
    let (mut book, damaged) = load(path);
    if let Some(why) = damaged {
        tracing::warn!("{why}; choosing ports afresh");
    }
    if let Some(port) = book.ports.get(name) {
        return Ok(*port);
    }
    let port = match preferred.and_then(|p| free_from(p, &book)) {
        Some(port) => port,
        None => any_free(&book)?,
    };
    book.ports.insert(name.to_owned(), port);
    write_json(path, &book)?;
    Ok(port)
}

/// Records a new port for `name` (its old one was taken by another program).
pub(crate) fn reassign(path: &Path, name: &str) -> Result<u16> {
    let (mut book, _) = load(path);
    let port = any_free(&book)?;
    book.ports.insert(name.to_owned(), port);
    write_json(path, &book)?;
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_ports_are_kept_and_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.json");
        let a = assign(&path, "svc/dev/proxy", None).unwrap();
        let b = assign(&path, "svc/dev/blue", None).unwrap();
        assert_ne!(a, b);
        assert_eq!(assign(&path, "svc/dev/proxy", None).unwrap(), a);
        let c = reassign(&path, "svc/dev/blue").unwrap();
        assert_ne!(c, b);
        assert_eq!(assign(&path, "svc/dev/blue", None).unwrap(), c);
    }

    #[test]
    fn a_taken_port_is_not_free_and_a_damaged_book_starts_afresh() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(!is_free(port));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.json");
        std::fs::write(&path, "not json").unwrap();
        let (book, why) = load(&path);
        assert!(book.ports.is_empty() && why.is_some());
        let chosen = assign(&path, "svc/dev/proxy", Some(port)).unwrap();
        assert_ne!(chosen, port);
    }
}
