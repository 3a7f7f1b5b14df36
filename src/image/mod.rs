//! Images and registries: references, short-name resolution, credentials,
//! TLS, pulling, and the image commands.

pub mod auth;
mod client;
mod local;
mod login;
mod pull;
pub mod reference;
pub mod registries;
pub mod tls;
pub mod transport;

use crate::cli::image::*;
use crate::cli::GlobalOpts;
use anyhow::Result;
pub use pull::{ensure_image, host_arch};

pub fn pull_cmd(g: &GlobalOpts, a: &PullArgs) -> Result<()> {
    pull::pull_cmd(g, a)
}
pub fn images_cmd(g: &GlobalOpts, a: &ImagesArgs) -> Result<()> {
    local::images_cmd(g, a)
}
pub fn rmi_cmd(g: &GlobalOpts, a: &RmiArgs) -> Result<()> {
    local::rmi_cmd(g, a)
}
pub fn tag_cmd(g: &GlobalOpts, a: &TagArgs) -> Result<()> {
    local::tag_cmd(g, a)
}
pub fn untag_cmd(g: &GlobalOpts, a: &UntagArgs) -> Result<()> {
    local::untag_cmd(g, a)
}
pub fn inspect_cmd(g: &GlobalOpts, a: &ImageInspectArgs) -> Result<()> {
    local::inspect_cmd(g, a)
}
pub fn prune_cmd(g: &GlobalOpts, a: &ImagePruneArgs) -> Result<()> {
    local::prune_cmd(g, a)
}
pub fn login_cmd(g: &GlobalOpts, a: &LoginArgs) -> Result<()> {
    login::login(g, a)
}
pub fn logout_cmd(g: &GlobalOpts, a: &LogoutArgs) -> Result<()> {
    login::logout(g, a)
}

/// The docker-like JSON of one image, as `image inspect` prints it.
pub fn inspect_value(
    store: &crate::storage::Store,
    rec: &crate::storage::ImageRecord,
) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(local::inspect_data(store, rec))?)
}
