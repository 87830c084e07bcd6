//! Property tests over hostile bytes for everything the local target parses
//! from disk: the tar unpacker (mutated archives with PAX headers, GNU long
//! names, links, FIFOs, devices and duplicate entries; truncated and
//! multi-member gzip), the nginx upstream file, pid files and the manifest.
//! Each must refuse or accept without panicking, and the unpacker must never
//! write outside its destination or create anything but plain files and
//! folders. `make test` runs a short pass; `make fuzz` sets PROPTEST_CASES
//! for a long one.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use proptest::prelude::*;

use crate::nginx::{parse_upstream, render_upstream, Routing};
use crate::package::Manifest;
use crate::process::read_pid;
use crate::unpack::{unpack, Limits};

const SMALL: Limits = Limits {
    max_bytes: 256 * 1024,
    max_entries: 64,
};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("writing to a Vec cannot fail");
    gz.finish().expect("writing to a Vec cannot fail")
}

/// An uncompressed tarball with every kind of entry a hostile archive uses.
fn nasty_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, body: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        if let Some(target) = link {
            h.set_link_name(target).expect("a short link name");
        }
        if path.len() < 100 {
            // Raw name bytes: the builder itself refuses `..` and absolute
            // paths, which is exactly what a hostile archive carries.
            let name = &mut h.as_old_mut().name;
            name.fill(0);
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, body).expect("appending to a Vec");
        } else {
            b.append_data(&mut h, path, body)
                .expect("appending to a Vec");
        }
    };
    add(
        "manifest.json",
        tar::EntryType::Regular,
        b"{\"service\":\"x\"}",
        None,
    );
    add("app/", tar::EntryType::Directory, b"", None);
    add(
        "app/index.html",
        tar::EntryType::Regular,
        b"<p>hi</p>",
        None,
    );
    add("app/index.html", tar::EntryType::Regular, b"again", None);
    let long = format!("app/{}/deep.txt", "d".repeat(180));
    add(&long, tar::EntryType::Regular, b"long name", None);
    add(
        "app/link",
        tar::EntryType::Symlink,
        b"",
        Some("/etc/passwd"),
    );
    add("app/hard", tar::EntryType::Link, b"", Some("../../outside"));
    add("app/fifo", tar::EntryType::Fifo, b"", None);
    add("app/dev", tar::EntryType::Char, b"", None);
    add("../escape.txt", tar::EntryType::Regular, b"out", None);
    add("/abs.txt", tar::EntryType::Regular, b"abs", None);
    add("app/sparse", tar::EntryType::GNUSparse, b"", None);
    // A PAX extended header naming the next entry.
    let pax = b"30 path=app/pax-named-file.txt\n";
    add("PaxHeader", tar::EntryType::XHeader, pax, None);
    add("app/short", tar::EntryType::Regular, b"pax body", None);
    b.into_inner().expect("finishing a Vec")
}

/// Nothing under `dest` but plain files and folders, and nothing beside it.
fn only_plain_files_inside(root: &Path, dest: &Path) {
    let mut stack = vec![dest.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let meta = std::fs::symlink_metadata(e.path()).expect("listed entries exist");
            let kind = meta.file_type();
            assert!(
                kind.is_file() || kind.is_dir(),
                "{} is neither a file nor a folder",
                e.path().display()
            );
            if kind.is_dir() {
                stack.push(e.path());
            }
        }
    }
    let beside: Vec<_> = std::fs::read_dir(root)
        .expect("the test's folder")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "dest")
        .collect();
    assert!(
        beside.is_empty(),
        "written outside the destination: {beside:?}"
    );
}

fn unpack_in_temp(tar_gz: &[u8]) {
    let root = tempfile::tempdir().expect("a temp folder");
    let dest = root.path().join("dest");
    let _ = unpack(tar_gz, &dest, SMALL);
    only_plain_files_inside(root.path(), &dest);
}

proptest! {
    #[test]
    fn raw_bytes_never_panic_the_unpacker(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        unpack_in_temp(&bytes);
        unpack_in_temp(&gzip(&bytes));
    }

    #[test]
    fn a_mutated_hostile_tarball_stays_inside(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        second_member in any::<bool>(),
    ) {
        let mut tar = nasty_tar();
        for (at, byte) in &flips {
            let i = at.index(tar.len());
            tar[i] = *byte;
        }
        let mut gz = gzip(&tar);
        if second_member {
            gz.extend(gzip(&tar));
        }
        if truncate {
            gz.truncate(cut.index(gz.len()));
        }
        unpack_in_temp(&gz);
    }

    #[test]
    fn the_upstream_parser_takes_any_text(text in ".{0,300}") {
        let _ = parse_upstream(&text);
    }

    #[test]
    fn an_upstream_file_reads_back_as_written(port_a in 1u16.., port_b in 1u16.., both in any::<bool>()) {
        use release_desk_domain::Leg;
        let routing = Routing {
            live: Leg::Green,
            serving: if both { vec![(Leg::Green, port_a), (Leg::Blue, port_b)] } else { vec![(Leg::Green, port_a)] },
        };
        prop_assert_eq!(parse_upstream(&render_upstream(&routing)), Some(routing));
    }

    #[test]
    fn pid_files_hold_a_process_or_nothing(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let dir = tempfile::tempdir().expect("a temp folder");
        let path = dir.path().join("x.pid");
        std::fs::write(&path, &bytes).expect("writing the pid file");
        if let Some(pid) = read_pid(&path) {
            prop_assert!(pid > 1);
        }
    }

    #[test]
    fn manifests_of_any_bytes_are_refused_or_valid(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = Manifest::parse(&bytes) {
            prop_assert!(crate::package::check_version(&m.version).is_ok());
        }
    }
}
