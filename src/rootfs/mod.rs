//! rootfs (see README.md, "Where things live").
