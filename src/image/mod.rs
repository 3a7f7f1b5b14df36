//! Images and registries: references, short-name resolution, credentials,
//! TLS, pulling, and the image commands.

pub mod auth;
mod login;
pub mod reference;
pub mod registries;
pub mod tls;
use crate::cli::image::*;
use crate::cli::GlobalOpts;
use anyhow::{bail, Result};

pub fn pull_cmd(_g: &GlobalOpts, _a: &PullArgs) -> Result<()> {
    bail!("pull: not implemented yet")
}
pub fn images_cmd(_g: &GlobalOpts, _a: &ImagesArgs) -> Result<()> {
    bail!("images: not implemented yet")
}
pub fn rmi_cmd(_g: &GlobalOpts, _a: &RmiArgs) -> Result<()> {
    bail!("rmi: not implemented yet")
}
pub fn tag_cmd(_g: &GlobalOpts, _a: &TagArgs) -> Result<()> {
    bail!("tag: not implemented yet")
}
pub fn untag_cmd(_g: &GlobalOpts, _a: &UntagArgs) -> Result<()> {
    bail!("untag: not implemented yet")
}
pub fn inspect_cmd(_g: &GlobalOpts, _a: &ImageInspectArgs) -> Result<()> {
    bail!("image inspect: not implemented yet")
}
pub fn prune_cmd(_g: &GlobalOpts, _a: &ImagePruneArgs) -> Result<()> {
    bail!("image prune: not implemented yet")
}
pub fn login_cmd(g: &GlobalOpts, a: &LoginArgs) -> Result<()> {
    login::login(g, a)
}
pub fn logout_cmd(g: &GlobalOpts, a: &LogoutArgs) -> Result<()> {
    login::logout(g, a)
}
