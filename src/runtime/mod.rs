//! runtime (see README.md, "Where things live").
