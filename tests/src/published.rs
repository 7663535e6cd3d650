//! The start of the tests of whole-cache commands (move, export and import,
//! serve): a temp folder, a fake hub in it, and models published there with
//! their files known, so a test can check any cache against the hub's bytes.

use std::path::Path;

use crate::fake_hub::{FakeHub, HubRepo};
use crate::fixture::weights;
use crate::python;

pub struct Published {
    pub tmp: tempfile::TempDir,
    pub hub: FakeHub,
    /// Each published model: its id and the repo as the hub serves it.
    pub models: Vec<(&'static str, HubRepo)>,
}

impl Default for Published {
    fn default() -> Self {
        Self::new()
    }
}

impl Published {
    /// An empty hub at `<tmp>/hub-root`.
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeHub::start(tmp.path().join("hub-root"));
        Self {
            tmp,
            hub,
            models: Vec::new(),
        }
    }

    /// A model of three files: `config.json`, a `model.safetensors` of
    /// `big` bytes (LFS) and `onnx/model.onnx`; `seed` makes them its own.
    pub fn publish(&mut self, id: &'static str, seed: u8, big: usize) {
        let files = [
            ("config.json", format!("{{\"seed\": {seed}}}").into_bytes()),
            ("model.safetensors", weights(seed, big)),
            ("onnx/model.onnx", weights(seed + 10, 5_000)),
        ];
        let repo = self.hub.publish(id, &files);
        self.models.push((id, repo));
    }

    /// Python, offline, finds every file of the models `ids` in `cache`
    /// with the hub's bytes, and `hf cache verify` passes for each.
    pub fn assert_python_reads(&self, cache: &Path, ids: &[&str]) {
        for (id, repo) in self.models.iter().filter(|(id, _)| ids.contains(id)) {
            python::assert_reads_offline(cache, &self.hub.root, id, repo);
            python::hf_ok(&["cache", "verify", id], cache, &self.hub.url);
        }
    }

    /// [`Self::assert_python_reads`] for every published model.
    pub fn assert_python_reads_all(&self, cache: &Path) {
        let ids: Vec<&str> = self.models.iter().map(|(id, _)| *id).collect();
        self.assert_python_reads(cache, &ids);
    }
}
