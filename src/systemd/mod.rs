//! systemd (see README.md, "Where things live").
