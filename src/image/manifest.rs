//! Manifests and indexes: the media types rpod accepts, parsing a
//! manifest into an image or an index, and choosing the entry of an index
//! for the wanted platform (by default this host's).

use super::Platform;
use crate::storage::Digest;
use anyhow::{anyhow, bail, Result};
use serde::Deserialize;

// The media types rpod knows, in one table. The OCI names are oci-spec's
// `MediaType` (and the Docker ones its `to_docker_v2s2`), which a test checks;
// they are spelled out here because `MediaType::as_ref` is not const.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_NONDIST: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_NONDIST_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_LAYER_NONDIST_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Not in the schema2 spec, but containers/image reads and writes it.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// What a media type describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Manifest,
    Index,
    Config,
    Layer,
}

/// How a layer blob is compressed (unpacking sniffs the first bytes anyway,
/// so a mislabelled blob still unpacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// One row of [`MEDIA_TYPES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaTypeInfo {
    pub name: &'static str,
    pub kind: Kind,
    /// Docker schema2 rather than OCI.
    pub docker: bool,
    /// For layers; `None` otherwise.
    pub compression: Compression,
    /// False for foreign/non-distributable layers (which a registry may not
    /// serve, and which a push does not upload).
    pub distributable: bool,
}

const fn row(
    name: &'static str,
    kind: Kind,
    docker: bool,
    compression: Compression,
    distributable: bool,
) -> MediaTypeInfo {
    MediaTypeInfo {
        name,
        kind,
        docker,
        compression,
        distributable,
    }
}

/// Every media type rpod reads: OCI and Docker schema2 manifests, indexes,
/// configs and layers.
pub const MEDIA_TYPES: &[MediaTypeInfo] = {
    use Compression::*;
    use Kind::*;
    &[
        row(OCI_MANIFEST, Manifest, false, None, true),
        row(OCI_INDEX, Index, false, None, true),
        row(OCI_CONFIG, Config, false, None, true),
        row(OCI_LAYER, Layer, false, None, true),
        row(OCI_LAYER_GZIP, Layer, false, Gzip, true),
        row(OCI_LAYER_ZSTD, Layer, false, Zstd, true),
        row(OCI_LAYER_NONDIST, Layer, false, None, false),
        row(OCI_LAYER_NONDIST_GZIP, Layer, false, Gzip, false),
        row(OCI_LAYER_NONDIST_ZSTD, Layer, false, Zstd, false),
        row(DOCKER_MANIFEST, Manifest, true, None, true),
        row(DOCKER_LIST, Index, true, None, true),
        row(DOCKER_CONFIG, Config, true, None, true),
        row(DOCKER_LAYER_GZIP, Layer, true, Gzip, true),
        row(DOCKER_LAYER, Layer, true, None, true),
        row(DOCKER_FOREIGN_LAYER_GZIP, Layer, true, Gzip, false),
    ]
};

/// The row for `name`, if rpod knows it.
pub fn media_type(name: &str) -> Option<&'static MediaTypeInfo> {
    MEDIA_TYPES.iter().find(|m| m.name == name)
}

/// Whether `name` is a layer media type rpod can unpack.
pub fn is_layer(name: &str) -> bool {
    media_type(name).is_some_and(|m| m.kind == Kind::Layer)
}

/// The Accept header for a manifest fetch: every manifest and index type.
pub(super) fn manifest_accept() -> String {
    MEDIA_TYPES
        .iter()
        .filter(|m| matches!(m.kind, Kind::Manifest | Kind::Index))
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Deserialize, Debug, Clone)]
pub(super) struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub(super) media_type: String,
    /// Checked as it is parsed: a manifest with a malformed digest is refused.
    pub(super) digest: Digest,
    #[serde(default)]
    pub(super) size: u64,
    #[serde(default)]
    pub(super) platform: Option<IndexPlatform>,
}

/// The platform of an index entry, or the one wanted.
#[derive(Deserialize, Debug, Clone, Default)]
pub(super) struct IndexPlatform {
    #[serde(default)]
    pub(super) architecture: String,
    #[serde(default)]
    pub(super) os: String,
    #[serde(default)]
    pub(super) variant: Option<String>,
}

#[derive(Deserialize, Debug)]
struct Manifest {
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

#[derive(Debug)]
pub(super) enum Parsed {
    Image {
        media_type: String,
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    Index(Vec<Descriptor>),
}

/// Parse a manifest and say which kind it is; refuse what we can't use.
pub(super) fn parse_manifest(bytes: &[u8]) -> Result<Parsed> {
    let m: Manifest =
        serde_json::from_slice(bytes).map_err(|e| anyhow!("malformed manifest: {e}"))?;
    if m.schema_version == Some(1) {
        bail!("unsupported manifest: Docker schema 1 (re-push the image with a current tool)");
    }
    let mt = m.media_type.clone().unwrap_or_default();
    match (mt.as_str(), m.manifests, m.layers, m.config) {
        (OCI_INDEX | DOCKER_LIST | "", Some(list), None, _) => Ok(Parsed::Index(list)),
        (OCI_MANIFEST | DOCKER_MANIFEST | "", None, Some(layers), Some(config)) => {
            Ok(Parsed::Image {
                media_type: if mt.is_empty() {
                    OCI_MANIFEST.to_string()
                } else {
                    mt
                },
                config,
                layers,
            })
        }
        (OCI_MANIFEST | DOCKER_MANIFEST | OCI_INDEX | DOCKER_LIST, ..) => {
            bail!("malformed manifest: a {mt} without the fields it needs")
        }
        ("", ..) => bail!("malformed manifest: neither an image manifest nor an index"),
        (other, ..) => bail!("unsupported manifest media type \"{other}\""),
    }
}

/// The OCI name of this machine's architecture (Go's GOARCH spelling, as
/// image indexes and seccomp profiles use it: `386` for 32-bit x86).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The platform asked for by --platform/--os/--arch/--variant.
pub(super) fn wanted_platform(p: &Platform) -> Result<IndexPlatform> {
    let mut want = IndexPlatform {
        os: "linux".into(),
        architecture: host_arch().into(),
        variant: None,
    };
    if let Some(s) = &p.spec {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => {
                want.os = os.to_string();
                want.architecture = arch.to_string();
            }
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                want.os = os.to_string();
                want.architecture = arch.to_string();
                want.variant = Some(variant.to_string());
            }
            _ => {
                bail!("invalid --platform \"{s}\": expected OS/ARCH[/VARIANT], e.g. linux/arm64/v8")
            }
        }
    }
    if let Some(os) = &p.os {
        want.os = os.clone();
    }
    if let Some(arch) = &p.arch {
        want.architecture = arch.clone();
    }
    if let Some(v) = &p.variant {
        want.variant = Some(v.clone());
    }
    Ok(want)
}

/// Pick the index entry for `want`: an exact variant match first, then one
/// without a variant (arm64 images often omit "v8").
pub(super) fn choose_platform<'a>(
    list: &'a [Descriptor],
    want: &IndexPlatform,
) -> Option<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = list
        .iter()
        .filter(|d| {
            d.platform
                .as_ref()
                .map(|p| p.os == want.os && p.architecture == want.architecture)
                .unwrap_or(false)
        })
        .collect();
    let variant_of = |d: &Descriptor| d.platform.as_ref().and_then(|p| p.variant.clone());
    match &want.variant {
        Some(v) => candidates
            .iter()
            .find(|d| variant_of(d).as_deref() == Some(v.as_str()))
            .or_else(|| candidates.iter().find(|d| variant_of(d).is_none()))
            .copied(),
        None => candidates.first().copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sha256_digest;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    /// The table agrees with oci-spec's media types.
    #[test]
    fn media_types_match_oci_spec() {
        use oci_spec::image::{MediaType, ToDockerV2S2};
        for (ours, theirs) in [
            (OCI_MANIFEST, MediaType::ImageManifest),
            (OCI_INDEX, MediaType::ImageIndex),
            (OCI_CONFIG, MediaType::ImageConfig),
            (OCI_LAYER, MediaType::ImageLayer),
            (OCI_LAYER_GZIP, MediaType::ImageLayerGzip),
            (OCI_LAYER_ZSTD, MediaType::ImageLayerZstd),
            (OCI_LAYER_NONDIST, MediaType::ImageLayerNonDistributable),
            (
                OCI_LAYER_NONDIST_GZIP,
                MediaType::ImageLayerNonDistributableGzip,
            ),
            (
                OCI_LAYER_NONDIST_ZSTD,
                MediaType::ImageLayerNonDistributableZstd,
            ),
        ] {
            assert_eq!(ours, theirs.to_string());
            assert_eq!(MediaType::from(ours), theirs);
        }
        for (ours, oci) in [
            (DOCKER_MANIFEST, MediaType::ImageManifest),
            (DOCKER_LIST, MediaType::ImageIndex),
            (DOCKER_CONFIG, MediaType::ImageConfig),
            (DOCKER_LAYER_GZIP, MediaType::ImageLayerGzip),
        ] {
            assert_eq!(ours, oci.to_docker_v2s2().unwrap());
        }
        let names: std::collections::HashSet<_> = MEDIA_TYPES.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), MEDIA_TYPES.len(), "no duplicates");
        for m in MEDIA_TYPES {
            assert_eq!(m.docker, m.name.contains(".docker."), "{}", m.name);
            if m.kind != Kind::Layer {
                assert_eq!(m.compression, Compression::None, "{}", m.name);
                assert!(m.distributable, "{}", m.name);
            }
            let zstd = m.name.ends_with("+zstd");
            let gzip = m.name.ends_with("+gzip") || m.name.ends_with(".gzip");
            assert_eq!(m.compression == Compression::Zstd, zstd, "{}", m.name);
            assert_eq!(m.compression == Compression::Gzip, gzip, "{}", m.name);
            assert_eq!(
                m.distributable,
                !(m.name.contains("nondistributable") || m.name.contains("foreign")),
                "{}",
                m.name
            );
        }
        assert!(is_layer(DOCKER_LAYER) && is_layer(OCI_LAYER_NONDIST_ZSTD));
        assert!(!is_layer(OCI_CONFIG) && !is_layer("application/x-tar"));
        let accept = manifest_accept();
        for t in [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST] {
            assert!(accept.contains(t), "{accept}");
        }
        assert!(!accept.contains("layer") && !accept.contains("config"));
    }

    #[test]
    fn manifests_are_classified() {
        let img = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{{"mediaType":"x","digest":"{A}","size":1}},"layers":[]}}"#
        );
        assert!(
            matches!(parse_manifest(img.as_bytes()).unwrap(), Parsed::Image { media_type, config, .. }
                if media_type == DOCKER_MANIFEST && config.digest.as_ref() == A)
        );
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"m","digest":"{A}","size":3,
            "platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#
        );
        assert!(
            matches!(parse_manifest(idx.as_bytes()).unwrap(), Parsed::Index(l) if l.len() == 1)
        );
        // A digest is checked where it enters: a short, upper-case or
        // path-like one makes the manifest malformed.
        for bad in [
            "sha256:aa",
            &A.to_uppercase(),
            "sha256:../../etc/passwd",
            "aa",
        ] {
            let m = img.replace(A, bad);
            let e = parse_manifest(m.as_bytes()).unwrap_err().to_string();
            assert!(e.starts_with("malformed manifest"), "{bad}: {e}");
        }
        let e = parse_manifest(b"{not json").unwrap_err().to_string();
        assert!(e.starts_with("malformed manifest"), "{e}");
        let e =
            parse_manifest(br#"{"schemaVersion":2,"mediaType":"application/vnd.foo","layers":[]}"#)
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("unsupported manifest media type \"application/vnd.foo\""),
            "{e}"
        );
        let e = parse_manifest(br#"{"schemaVersion":1,"fsLayers":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema 1"), "{e}");
    }

    fn entry(arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: sha256_digest(arch.as_bytes()),
            size: 1,
            platform: Some(IndexPlatform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: variant.map(String::from),
            }),
        }
    }

    #[test]
    fn platforms_are_chosen_by_os_arch_and_variant() {
        let list = [entry("amd64", None), entry("arm64", Some("v8"))];
        let want = |p: &str| {
            wanted_platform(&Platform {
                spec: Some(p.into()),
                ..Default::default()
            })
            .unwrap()
        };
        assert_eq!(
            choose_platform(&list, &want("linux/arm64")).unwrap().digest,
            sha256_digest(b"arm64")
        );
        assert_eq!(
            choose_platform(&list, &want("linux/arm64/v8"))
                .unwrap()
                .digest,
            sha256_digest(b"arm64")
        );
        assert_eq!(
            choose_platform(&list, &want("linux/amd64")).unwrap().digest,
            sha256_digest(b"amd64")
        );
        assert!(choose_platform(&list, &want("linux/s390x")).is_none());
        assert!(wanted_platform(&Platform {
            spec: Some("linux".into()),
            ..Default::default()
        })
        .is_err());
        let by_flags = wanted_platform(&Platform {
            arch: Some("arm64".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            choose_platform(&list, &by_flags).unwrap().digest,
            sha256_digest(b"arm64")
        );
    }
}
