//! A disk that takes no symlinks, as the usual external drive: an exFAT
//! file system in an image file, through a loop device and exfat-fuse (the
//! kernel here has no exFAT of its own). Needs root, /dev/fuse and a loop
//! device, as CI has; `make test` installs exfatprogs and exfat-fuse.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The mounted disk; unmounted and detached on drop.
pub struct ExfatDisk {
    mount: PathBuf,
    loop_device: String,
}

impl ExfatDisk {
    /// A fresh exFAT disk of `mib` MiB mounted at `dir/mnt` (its image is
    /// `dir/exfat.img`).
    pub fn new(dir: &Path, mib: u64) -> Self {
        let image = dir.join("exfat.img");
        let file = std::fs::File::create(&image).unwrap();
        file.set_len(mib << 20).unwrap();
        run(
            Command::new("mkfs.exfat").arg(&image),
            "mkfs.exfat (exfatprogs)",
        );
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&image)
            .output()
            .expect("losetup (util-linux)");
        assert!(
            out.status.success(),
            "losetup could not attach the image (needs root and a loop device): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let loop_device = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let mount = dir.join("mnt");
        std::fs::create_dir_all(&mount).unwrap();
        let disk = Self { mount, loop_device };
        run(
            Command::new("mount.exfat-fuse")
                .arg(&disk.loop_device)
                .arg(&disk.mount),
            "mount.exfat-fuse (exfat-fuse, needs /dev/fuse)",
        );
        disk
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.mount
    }
}

impl Drop for ExfatDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
        let _ = Command::new("losetup")
            .args(["--detach", &self.loop_device])
            .status();
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
